import { DynamicModule, Module } from '@nestjs/common';
import { AggProducerConfig } from '@lib/config';

/**
 * The agg-producer app as a module, without process concerns (HTTP server, health, metrics endpoint), so
 * the embedded mode can compose it with the other apps in one process.
 */
@Module({})
export class AggProducerModule {
  static register(config: AggProducerConfig): DynamicModule {
    return {
      module: AggProducerModule,
      providers: [{ provide: AggProducerConfig, useValue: config }],
      exports: [AggProducerConfig],
    };
  }
}
