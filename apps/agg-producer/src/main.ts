import { aggProducerConfigSchema, bootConfig } from '@lib/config';
import { KafkaAvroModule } from '@lib/kafka-avro';
import { PlatformModule, createHttpApp, listen, httpAppOptionsOf } from '@lib/platform';
import { Module } from '@nestjs/common';
import { AggProducerModule, aggProducerMessaging } from './agg-producer.module';

async function main(): Promise<void> {
  const config = bootConfig('agg-producer', aggProducerConfigSchema);
  @Module({
    imports: [
      PlatformModule.forRoot(),
      KafkaAvroModule.forRoot(aggProducerMessaging(config)),
      AggProducerModule.register(config),
    ],
  })
  class AggProducerAppModule {}

  const options = httpAppOptionsOf('agg-producer', config);
  const app = await createHttpApp(AggProducerAppModule, options);
  await listen(app, options);
}

void main();
