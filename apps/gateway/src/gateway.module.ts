import { DynamicModule, Module } from '@nestjs/common';
import { GatewayConfig } from '@lib/config';

/**
 * The gateway app as a module, without process concerns (HTTP server, health, metrics endpoint), so
 * the embedded mode can compose it with the other apps in one process.
 */
@Module({})
export class GatewayModule {
  static register(config: GatewayConfig): DynamicModule {
    return {
      module: GatewayModule,
      providers: [{ provide: GatewayConfig, useValue: config }],
      exports: [GatewayConfig],
    };
  }
}
