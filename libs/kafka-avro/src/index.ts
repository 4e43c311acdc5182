export * from './messaging';
export * from './messaging.config';
export type {
  MessagingTransport,
  MessagingTransportContext,
  MessagingTransportFactory,
  NestEventClient,
} from './messaging.transport';
export * from './topics';
export * from './kafka-avro.module';
export { KAFKA_AVRO_OPTIONS, MessagingRuntime } from './messaging.runtime';
export type { KafkaAvroModuleOptions } from './messaging.runtime';
export * from './schemas/avro-schema.types';
export * from './schemas/schema.catalog';
export { userTagSchemaV1, USER_TAG_SCHEMA } from './schemas/user-tag.schema';
export { deribitTradeSchemaV1, DERIBIT_TRADE_SCHEMA } from './schemas/deribit-trade.schema';
export { tradeStatsSchemaV1, tradeStatsSchemaV2, TRADE_STATS_SCHEMA } from './schemas/trade-stats.schema';
export * from './serde/avro.serde';
export { SingleObjectSerde } from './serde/single-object.serde';
export { ConfluentSerde } from './serde/confluent.serde';
export type { SchemaRegistryClient } from './serde/confluent.serde';
export * from './nest/avro-kafka.serializer';
export * from './nest/avro-kafka.deserializer';
export { restoreTraceContext } from './nest/trace-context.hook';
export * from './tracing/trace-context';
export { setupTracing } from './tracing/tracing.setup';
export { DLQ_HEADERS, DeadLetterSink } from './dead-letter/dead-letter';
export type { DeadLetter, PoisonMessage } from './dead-letter/dead-letter';
export { KafkaOptionsFactory } from './kafka/kafka-options.factory';
export { KafkaMessagePublisher } from './kafka/kafka-message.publisher';
export { KafkaMessageConsumer } from './kafka/kafka-message.consumer';
export { KafkaTransactionalPublisher } from './kafka/kafka-transactional.publisher';
export { ensureTopics } from './kafka/kafka-topic.admin';
