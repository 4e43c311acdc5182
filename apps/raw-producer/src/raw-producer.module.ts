import { DynamicModule, Module } from '@nestjs/common';
import { RawProducerConfig } from '@lib/config';

/**
 * The raw-producer app as a module, without process concerns (HTTP server, health, metrics endpoint), so
 * the embedded mode can compose it with the other apps in one process.
 */
@Module({})
export class RawProducerModule {
  static register(config: RawProducerConfig): DynamicModule {
    return {
      module: RawProducerModule,
      providers: [{ provide: RawProducerConfig, useValue: config }],
      exports: [RawProducerConfig],
    };
  }
}
