import { bootConfig, gatewayConfigSchema } from '@lib/config';
import { PlatformModule, createHttpApp, listen, httpAppOptionsOf } from '@lib/platform';
import { Logger, Module } from '@nestjs/common';
import { GatewayModule, configureGatewayHttp, setupGatewayOpenApi, startMarketReadSide } from './gateway.module';

async function main(): Promise<void> {
  const config = bootConfig('gateway', gatewayConfigSchema);
  @Module({ imports: [PlatformModule.forRoot(), GatewayModule.register(config)] })
  class GatewayAppModule {}

  const options = httpAppOptionsOf('gateway', config, {
    bodyLimitBytes: Math.max(config.BODY_LIMIT_BYTES, config.DEBUG_BODY_LIMIT_BYTES),
  });
  const app = await createHttpApp(GatewayAppModule, options);
  configureGatewayHttp(app, config);
  setupGatewayOpenApi(app);
  await startMarketReadSide(app, config);
  const url = await listen(app, options);
  new Logger('gateway').log(`API docs: ${url}/docs (OpenAPI JSON: ${url}/docs-json)`);
}

void main();
