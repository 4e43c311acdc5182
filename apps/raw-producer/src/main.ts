import { rawProducerConfigSchema, bootConfig } from '@lib/config';
import { MessagePublisher, PublishError } from '@lib/kafka-avro/messaging';
import { createHttpApp, listen } from '@lib/platform';
import { Module } from '@nestjs/common';
import { rawProducerAppModule } from './raw-producer-app.module';

/**
 * Stand-in until libs/kafka-avro provides its messaging module: every publish fails as unavailable, so
 * the forwarder retries and holds the source back, and readiness reports the publisher down.
 */
class UnavailablePublisher extends MessagePublisher {
  publish(): Promise<void> {
    return Promise.reject(new PublishError('no messaging module is wired yet', 'unavailable'));
  }
  isReady(): boolean {
    return false;
  }
}

@Module({
  providers: [{ provide: MessagePublisher, useClass: UnavailablePublisher }],
  exports: [MessagePublisher],
})
class MessagingPlaceholderModule {}

async function main(): Promise<void> {
  const config = bootConfig('raw-producer', rawProducerConfigSchema);
  const options = {
    name: 'raw-producer',
    host: config.HOST,
    port: config.PORT,
    logLevel: config.LOG_LEVEL,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  };
  const app = await createHttpApp(rawProducerAppModule(config, { module: MessagingPlaceholderModule }), options);
  await listen(app, options);
}

void main();
