import { rawProducerConfigSchema, bootConfig } from '@lib/config';
import { PlatformModule, createHttpApp, listen } from '@lib/platform';
import { Module } from '@nestjs/common';
import { RawProducerModule } from './raw-producer.module';

async function main(): Promise<void> {
  const config = bootConfig('raw-producer', rawProducerConfigSchema);
  @Module({ imports: [PlatformModule.forRoot(), RawProducerModule.register(config)] })
  class RawProducerAppModule {}

  const options = {
    name: 'raw-producer',
    host: config.HOST,
    port: config.PORT,
    logLevel: config.LOG_LEVEL,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  };
  const app = await createHttpApp(RawProducerAppModule, options);
  await listen(app, options);
}

void main();
