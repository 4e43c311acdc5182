import { DynamicModule, Module, Type } from '@nestjs/common';
import { RawProducerConfig } from '@lib/config';
import { PlatformModule } from '@lib/platform';
import { RawProducerModule } from './raw-producer.module';

/**
 * The process-level composition `main.ts` runs: platform (health, metrics), the messaging module that
 * provides MessagePublisher, and the app's module. Tests and the bench build the same thing.
 */
export function rawProducerAppModule(config: RawProducerConfig, messaging: DynamicModule): Type<unknown> {
  @Module({ imports: [PlatformModule.forRoot(), { ...messaging, global: true }, RawProducerModule.register(config)] })
  class RawProducerAppModule {}
  return RawProducerAppModule;
}
