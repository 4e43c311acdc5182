import { DynamicModule, Module } from '@nestjs/common';
import { PipelineConfig } from '@lib/config';

/**
 * The pipeline app as a module, without process concerns (HTTP server, health, metrics endpoint), so
 * the embedded mode can compose it with the other apps in one process.
 */
@Module({})
export class PipelineModule {
  static register(config: PipelineConfig): DynamicModule {
    return {
      module: PipelineModule,
      providers: [{ provide: PipelineConfig, useValue: config }],
      exports: [PipelineConfig],
    };
  }
}
