import { DynamicModule, Module } from '@nestjs/common';
import { RawProducerConfig } from '@lib/config';
import { PublishedTrades, TradeSource } from '@lib/domain';
import { deribitTradesTopic, MessagePublisher, TopicReader } from '@lib/kafka-avro';
import { TradeForwarder } from './forwarder/trade-forwarder.service';
import { RawProducerMetrics } from './metrics/raw-producer.metrics';
import { RawProducerReadiness } from './raw-producer.readiness';
import { TopicPublishedTrades } from './restore/topic-published-trades';
import { createTradeSource } from './trade-source.factory';

/**
 * What the trades topic already holds is read back through the messaging module's TopicReader (Kafka or
 * the in-process log). A composition without the messaging module (a test's own publisher) must provide
 * a PublishedTrades of its own.
 */
function publishedTradesOf(config: RawProducerConfig, reader: TopicReader | undefined): PublishedTrades {
  if (reader === undefined) {
    throw new Error('raw-producer needs the messaging module (KafkaAvroModule.forRoot) or a PublishedTrades provider');
  }
  return new TopicPublishedTrades(
    reader,
    deribitTradesTopic(config.TOPIC_DERIBIT_TRADES),
    config.TRADE_RESTORE_TIMEOUT_MS,
  );
}

/**
 * The raw-producer app as a module, without process concerns (HTTP server, health, metrics endpoint), so
 * the embedded mode can compose it with the other apps in one process.
 *
 * It needs a MessagePublisher from the root (KafkaAvroModule, global: in embedded mode all apps talk
 * through one in-process transport), and reads the trades topic back at start-up through the same
 * module's TopicReader (or a PublishedTrades the root provides instead). On bootstrap it starts the source; on shutdown (onModuleDestroy)
 * it stops the source and writes what is buffered, before the messaging module closes the publisher
 * (onApplicationShutdown).
 */
@Module({})
export class RawProducerModule {
  static register(config: RawProducerConfig): DynamicModule {
    return {
      module: RawProducerModule,
      providers: [
        { provide: RawProducerConfig, useValue: config },
        { provide: TradeSource, useFactory: () => createTradeSource(config) },
        { provide: RawProducerMetrics, useFactory: () => new RawProducerMetrics() },
        {
          provide: TradeForwarder,
          inject: [
            TradeSource,
            MessagePublisher,
            RawProducerMetrics,
            { token: PublishedTrades, optional: true },
            { token: TopicReader, optional: true },
          ],
          useFactory: (
            source: TradeSource,
            publisher: MessagePublisher,
            metrics: RawProducerMetrics,
            given: PublishedTrades | undefined,
            reader: TopicReader | undefined,
          ) =>
            new TradeForwarder(
              source,
              publisher,
              deribitTradesTopic(config.TOPIC_DERIBIT_TRADES),
              metrics,
              {
                dedupeCapacity: config.TRADE_DEDUPE_CAPACITY,
                backfillEnabled: config.BACKFILL_ENABLED,
                backfillMaxTrades: config.BACKFILL_MAX_TRADES,
                backfillTimeoutMs: config.BACKFILL_TIMEOUT_MS,
                backfillRetryForMs: config.BACKFILL_RETRY_FOR_MS,
                maxQueuedTrades: config.FORWARD_QUEUE_MAX_TRADES,
                publishBatchMax: config.KAFKA_BATCH_MAX_MESSAGES,
                // Nobody waits on this answer (unlike the gateway's 503), so wait as long as one broker request may.
                publishTimeoutMs: Math.max(config.KAFKA_PRODUCE_TIMEOUT_MS, config.KAFKA_REQUEST_TIMEOUT_MS),
                publishRetryBaseMs: config.PUBLISH_RETRY_BASE_MS,
                publishRetryMaxMs: config.PUBLISH_RETRY_MAX_MS,
                shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
                restoreTailPerPartition: config.TRADE_RESTORE_TAIL,
                restoreTimeoutMs: config.TRADE_RESTORE_TIMEOUT_MS,
                watermarkIntervalMs: config.SOURCE_WATERMARK_INTERVAL_MS,
              },
              given ?? publishedTradesOf(config, reader),
            ),
        },
        RawProducerReadiness,
      ],
      exports: [RawProducerConfig, TradeForwarder, RawProducerMetrics],
    };
  }
}
