import { bootConfig, rawProducerConfigSchema } from '@lib/config';
import { deribitTradesTopic, KafkaAvroModule } from '@lib/kafka-avro';
import { createHttpApp, listen, httpAppOptionsOf } from '@lib/platform';
import { rawProducerAppModule } from './raw-producer-app.module';

async function main(): Promise<void> {
  const config = bootConfig('raw-producer', rawProducerConfigSchema);
  // Only the topic this app writes: it is created at start-up when missing.
  const messaging = KafkaAvroModule.forRoot({
    app: 'raw-producer',
    config,
    topics: [deribitTradesTopic(config.TOPIC_DERIBIT_TRADES)],
  });
  const options = httpAppOptionsOf('raw-producer', config);
  const app = await createHttpApp(rawProducerAppModule(config, messaging), options);
  await listen(app, options);
}

void main();
