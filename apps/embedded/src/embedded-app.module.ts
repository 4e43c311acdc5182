import { AggProducerModule, aggProducerMessaging } from '../../agg-producer/src/agg-producer.module';
import { GatewayModule } from '../../gateway/src/gateway.module';
import { PipelineModule } from '../../pipeline/src/pipeline.module';
import { RawProducerModule } from '../../raw-producer/src/raw-producer.module';
import { deribitTradesTopic, KafkaAvroModule, KafkaAvroModuleOptions, TopicSpec, userTagsTopic } from '@lib/kafka-avro';
import { InMemoryBroker, inProcessTransport } from '@lib/in-process-log';
import { PlatformModule } from '@lib/platform';
import { DynamicModule, Module, Type } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
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
  return {
    ...agg,
    app: 'embedded',
    config: config.gateway,
    topics: [...topics.values()],
    inProcess: inProcessTransport(broker),
  };
}

/**
 * The apps' own `ScheduleModule.forRoot()` imports replaced by one shared registration: Nest tells
 * dynamic modules apart by reference, so each app's would be a schedule module of its own, and each
 * runs every `@Cron`/`@Interval` of the whole application (the retention job twice a minute).
 */
function withSchedule(app: DynamicModule, schedule: DynamicModule): DynamicModule {
  const isSchedule = (m: unknown): boolean =>
    typeof m === 'object' && m !== null && (m as Partial<DynamicModule>).module === ScheduleModule;
  return { ...app, imports: (app.imports ?? []).map((m) => (isSchedule(m) ? schedule : m)) };
}

/**
 * All four apps as one Nest application: platform (health and metrics of all of them), messaging and
 * the schedule module once, at the root; each app's module with messaging left to the root.
 */
export function embeddedAppModule(config: EmbeddedConfig, broker: InMemoryBroker | undefined): Type<unknown> {
  const schedule = ScheduleModule.forRoot();
  @Module({
    imports: [
      PlatformModule.forRoot(),
      KafkaAvroModule.forRoot(embeddedMessaging(config, broker)),
      schedule,
      GatewayModule.register(config.gateway, { messaging: false }),
      withSchedule(PipelineModule.register(config.pipeline, { messaging: false }), schedule),
      RawProducerModule.register(config.rawProducer),
      withSchedule(AggProducerModule.register(config.aggProducer), schedule),
    ],
  })
  class EmbeddedAppModule {}
  return EmbeddedAppModule;
}
