import { AggProducerConfig } from '@lib/config';
import { Clock, SystemClock } from '@lib/domain';
import { AvroRecordSchema, KafkaAvroModuleOptions } from '@lib/kafka-avro';
import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AggProducerMetrics } from './agg-producer.metrics';
import { AggProducerTopics, aggProducerTopics } from './agg-producer.topics';
import { aggStateSchemaV1, aggStateSchemaV2, aggStateSchemaV3 } from './state/agg-state.schema';
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
    // Version 2 written; version 1 (before the dedupe) still read, from a changelog of an older build.
    schemas: {
      current: [aggStateSchemaV3 as unknown as AvroRecordSchema],
      known: [aggStateSchemaV1 as unknown as AvroRecordSchema, aggStateSchemaV2 as unknown as AvroRecordSchema],
    },
    transactionalId: `${config.KAFKA_CLIENT_ID ?? 'agg-producer'}-tx`,
  };
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
        TradeStatsRunner,
      ],
      exports: [AggProducerConfig, TradeStatsRunner],
    };
  }
}
