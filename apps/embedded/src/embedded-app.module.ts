import { AggProducerModule, aggProducerMessaging } from '../../agg-producer/src/agg-producer.module';
import { GatewayModule } from '../../gateway/src/gateway.module';
import { PipelineModule } from '../../pipeline/src/pipeline.module';
import { RawProducerModule } from '../../raw-producer/src/raw-producer.module';
import {
  deribitTradesTopic,
  InMemoryBroker,
  KafkaAvroModule,
  KafkaAvroModuleOptions,
  TopicSpec,
  userTagsTopic,
} from '@lib/kafka-avro';
import { PlatformModule } from '@lib/platform';
import { Module, Type } from '@nestjs/common';
import { join, resolve } from 'node:path';
import { EmbeddedConfig } from './embedded.config';

/**
 * The in-process log of this mode, durable under DATA_DIR/log: the aggregates' offsets live in
 * PGlite and agg-producer's state in its changelog topic, both of which survive a restart, so the
 * log must too (offsets that restarted at 0 would be skipped as already counted, and tags
 * acknowledged but not yet consumed would be lost). Kafka transport: none.
 */
export async function openEmbeddedLog(config: EmbeddedConfig): Promise<InMemoryBroker | undefined> {
  if (config.gateway.TRANSPORT !== 'in-process') return undefined;
  return InMemoryBroker.open({
    dir: embeddedLogDir(config),
    partitions: config.gateway.KAFKA_TOPIC_PARTITIONS,
    // The changelog is state (latest record per key); a republished window replaces the earlier one.
    compactedTopics: [config.aggProducer.TOPIC_AGG_STATE, config.aggProducer.TOPIC_TRADE_STATS],
  });
}

export function embeddedLogDir(config: EmbeddedConfig): string {
  return join(resolve(config.gateway.DATA_DIR), 'log');
}

/** One messaging module for the four apps: every topic any of them uses, agg-producer's schemas and transactional id. */
export function embeddedMessaging(config: EmbeddedConfig, broker: InMemoryBroker | undefined): KafkaAvroModuleOptions {
  const agg = aggProducerMessaging(config.aggProducer);
  const topics = new Map<string, TopicSpec<never>>();
  for (const topic of [
    userTagsTopic(config.gateway.TOPIC_USER_TAGS),
    deribitTradesTopic(config.rawProducer.TOPIC_DERIBIT_TRADES),
    ...(agg.topics ?? []),
  ] as TopicSpec<never>[]) {
    topics.set(topic.name, topic);
  }
  return { ...agg, app: 'embedded', config: config.gateway, topics: [...topics.values()], broker };
}

/**
 * All four apps as one Nest application: platform (health and metrics of all of them) and messaging
 * once, at the root; each app's module with messaging left to the root. The schedule module both
 * pipeline and agg-producer import is one module (same registration), so jobs are not doubled.
 */
export function embeddedAppModule(config: EmbeddedConfig, broker: InMemoryBroker | undefined): Type<unknown> {
  @Module({
    imports: [
      PlatformModule.forRoot(),
      KafkaAvroModule.forRoot(embeddedMessaging(config, broker)),
      GatewayModule.register(config.gateway, { messaging: false }),
      PipelineModule.register(config.pipeline, { messaging: false }),
      RawProducerModule.register(config.rawProducer),
      AggProducerModule.register(config.aggProducer),
    ],
  })
  class EmbeddedAppModule {}
  return EmbeddedAppModule;
}
