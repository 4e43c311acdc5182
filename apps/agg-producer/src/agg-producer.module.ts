import { AggProducerConfig } from '@lib/config';
import { Clock, SystemClock } from '@lib/domain';
import { AvroRecordSchema, KafkaAvroModuleOptions, MessagingRuntime } from '@lib/kafka-avro';
import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AggProducerMetrics } from './agg-producer.metrics';
import { AggProducerTopics, aggProducerTopics } from './agg-producer.topics';
import { aggStateSchemaV1 } from './state/agg-state.schema';
import { ChangelogReader } from './state/changelog-reader.port';
import { InProcessChangelogReader } from './state/in-process-changelog.reader';
import { KafkaChangelogReader } from './state/kafka-changelog.reader';
import { TradeStatsProcessor } from './trade-stats.processor';
import { TradeStatsRunner } from './trade-stats.runner';
import { tradeWindowRulesOf } from './trade-window-rules';

/**
 * What agg-producer needs of the messaging module (KafkaAvroModule.forRoot): its topics, the Avro schema
 * of its changelog, and a transactional id registered at start-up, so that a crashed predecessor's open
 * transaction is aborted before the changelog is read back.
 */
export function aggProducerMessaging(config: AggProducerConfig): KafkaAvroModuleOptions {
  const topics = aggProducerTopics(config);
  return {
    app: 'agg-producer',
    config,
    topics: [topics.trades, topics.stats, topics.state],
    // The cast: the library's AvroRecordSchema type does not describe arrays yet (avsc handles them).
    schemas: { current: [aggStateSchemaV1 as unknown as AvroRecordSchema] },
    transactionalId: `${config.KAFKA_CLIENT_ID ?? 'agg-producer'}-tx`,
  };
}

function changelogReaderOf(config: AggProducerConfig, messaging: MessagingRuntime): ChangelogReader {
  if (messaging.broker !== undefined) return new InProcessChangelogReader(messaging.broker, messaging.serde);
  const kafka = messaging.kafkaOptions;
  if (kafka === undefined) throw new Error('messaging has neither a Kafka nor an in-process transport');
  return new KafkaChangelogReader(kafka.kafka('changelog'), messaging.serde, {
    consumerConfig: (groupId) => kafka.consumerConfig(groupId, { maxWaitTimeInMs: 100 }),
    groupPrefix: `${config.STATS_GROUP_ID}-restore`,
    timeoutMs: config.STATE_RESTORE_TIMEOUT_MS,
    partitions: config.KAFKA_TOPIC_PARTITIONS,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
  });
}

/**
 * The agg-producer app as a module, without process concerns (HTTP server, health, metrics endpoint), so
 * the embedded mode can compose it with the other apps in one process. Expects the messaging module
 * (global) in the importing context, configured with {@link aggProducerMessaging}.
 */
@Module({})
export class AggProducerModule {
  static register(config: AggProducerConfig): DynamicModule {
    return {
      module: AggProducerModule,
      imports: [ScheduleModule.forRoot()],
      providers: [
        { provide: AggProducerConfig, useValue: config },
        { provide: AggProducerTopics, useValue: aggProducerTopics(config) },
        { provide: TradeStatsProcessor, useFactory: () => new TradeStatsProcessor(tradeWindowRulesOf(config)) },
        { provide: AggProducerMetrics, useFactory: () => new AggProducerMetrics() },
        { provide: Clock, useClass: SystemClock },
        {
          provide: ChangelogReader,
          inject: [MessagingRuntime],
          useFactory: (messaging: MessagingRuntime) => changelogReaderOf(config, messaging),
        },
        TradeStatsRunner,
      ],
      exports: [AggProducerConfig, TradeStatsRunner],
    };
  }
}
