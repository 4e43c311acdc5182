import type { UserTag } from '@lib/domain';
import { Kafka, logLevel } from 'kafkajs';
import type { RawMessage } from '../consuming/raw-message';
import { InMemoryBroker } from '@lib/in-process-log/in-memory.broker';
import { InMemoryDeadLetterSink, InProcessMessageConsumer } from '@lib/in-process-log/in-process-message.consumer';
import { InProcessMessagePublisher } from '@lib/in-process-log/in-process-message.publisher';
import { InProcessTopicReader } from '@lib/in-process-log/in-process-topic.reader';
import { InProcessTransactionalPublisher } from '@lib/in-process-log/in-process-transactional.publisher';
import { KafkaDeadLetterSink } from '../kafka/kafka-dead-letter.sink';
import { KafkaMessageConsumer } from '../kafka/kafka-message.consumer';
import { KafkaMessagePublisher, PublisherTuning } from '../kafka/kafka-message.publisher';
import { KafkaOptionsFactory } from '../kafka/kafka-options.factory';
import { ensureTopics } from '../kafka/kafka-topic.admin';
import { KafkaTopicReader } from '../kafka/kafka-topic.reader';
import { KafkaTransactionalPublisher } from '../kafka/kafka-transactional.publisher';
import {
  ConsumedBatch,
  ConsumedMessage,
  ConsumerHandle,
  ConsumerOptions,
  MessageConsumer,
  MessagePublisher,
  TopicReader,
  TopicSpec,
  TransactionalPublisher,
} from '../messaging';
import { MessagingConfig } from '../messaging.config';
import { defaultSchemaCatalog } from '../schemas/schema.catalog';
import { SingleObjectSerde } from '../serde/single-object.serde';
import { deadLetterTopicOf, userTagsTopic } from '../topics';

/** One implementation of the messaging contract, as the contract tests drive it. */
export interface MessagingHarness {
  readonly name: string;
  readonly kafka: boolean;
  publisher(tuning?: Partial<PublisherTuning>): Promise<MessagePublisher>;
  consumer(): MessageConsumer;
  transactional(id: string): TransactionalPublisher;
  reader(): TopicReader;
  /** A fresh user-tags-like topic with `partitions` partitions. */
  topic(prefix: string, partitions: number): Promise<TopicSpec<UserTag>>;
  /** Writes bytes as they are, bypassing the serde (poison). */
  publishRaw(topic: string, key: string, value: Buffer): Promise<void>;
  /** Every dead letter of `topic`, once at least `count` are there. */
  deadLetters(topic: string, count: number): Promise<RawMessage[]>;
  /** Produce requests a publisher made (Kafka only). */
  requestCount(publisher: MessagePublisher): number | undefined;
  close(): Promise<void>;
}

export const serde = new SingleObjectSerde(defaultSchemaCatalog());
const FAST_RETRY = { firstDelayMs: 50, maxDelayMs: 500 };

export function inProcessHarness(): MessagingHarness {
  const broker = new InMemoryBroker({ partitions: 3 });
  const deadLetters = new InMemoryDeadLetterSink(broker);
  const consumers: InProcessMessageConsumer[] = [];
  let topics = 0;
  return {
    name: 'in-process',
    kafka: false,
    publisher: async () => new InProcessMessagePublisher(broker, serde),
    consumer: () => {
      const consumer = new InProcessMessageConsumer(broker, serde, deadLetters);
      consumers.push(consumer);
      return consumer;
    },
    transactional: () => new InProcessTransactionalPublisher(broker, serde),
    reader: () => new InProcessTopicReader(broker, serde),
    topic: async (prefix, partitions) => {
      const name = `${prefix}-${++topics}`;
      broker.createTopic(name, partitions);
      return userTagsTopic(name);
    },
    publishRaw: async (topic, key, value) => broker.append([{ topic, key, value, headers: {} }]),
    deadLetters: async (topic, count) => {
      const dlq = deadLetterTopicOf(topic);
      const found: RawMessage[] = [];
      await eventually(() => {
        found.length = 0;
        for (let p = 0; p < broker.partitionCount(dlq); p++) found.push(...broker.read(dlq, p, 0, 1_000));
        return found.length >= count;
      });
      return found;
    },
    requestCount: () => undefined,
    close: async () => {
      await Promise.all(consumers.map((c) => c.close()));
    },
  };
}

export function kafkaHarness(brokers: string[], uniqueName: (prefix: string) => string): MessagingHarness {
  const config: MessagingConfig = {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: brokers,
    KAFKA_CLIENT_ID: undefined,
    KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
    KAFKA_REQUEST_TIMEOUT_MS: 30_000,
    KAFKA_SESSION_TIMEOUT_MS: 10_000,
    KAFKA_TOPIC_PARTITIONS: 3,
    KAFKA_REPLICATION_FACTOR: 1,
    SCHEMA_REGISTRY_URL: undefined,
    TOPIC_USER_TAGS: 'unused',
    TOPIC_DERIBIT_TRADES: 'unused',
    TOPIC_TRADE_STATS: 'unused',
    OTEL_EXPORTER_ENABLED: false,
    KAFKA_LINGER_MS: 2,
    KAFKA_BATCH_MAX_MESSAGES: 500,
    KAFKA_PRODUCE_TIMEOUT_MS: 10_000,
  };
  const options = new KafkaOptionsFactory(config, 'contract-test');
  const kafka = options.kafka('test');
  const deadLetters = new KafkaDeadLetterSink(kafka, options);
  const closers: (() => Promise<unknown>)[] = [() => deadLetters.close()];
  return {
    name: 'kafka',
    kafka: true,
    publisher: async (tuning = {}) => {
      const publisher = KafkaMessagePublisher.fromOptions(options, serde, tuning);
      await publisher.connect();
      closers.push(() => publisher.close());
      return publisher;
    },
    consumer: () => {
      const consumer = new KafkaMessageConsumer(kafka, options, serde, deadLetters, {
        retry: FAST_RETRY,
        // Quick rebalances: a member that joins is noticed within a heartbeat.
        consumer: { heartbeatInterval: 300, sessionTimeout: 6_000, maxWaitTimeInMs: 100 },
      });
      closers.push(() => consumer.close());
      return consumer;
    },
    transactional: (id) => {
      const tx = new KafkaTransactionalPublisher(kafka, options, serde, id);
      closers.push(() => tx.close());
      return tx;
    },
    reader: () =>
      new KafkaTopicReader(kafka, serde, {
        consumerConfig: (groupId) => options.consumerConfig(groupId, { maxWaitTimeInMs: 100 }),
        groupPrefix: uniqueName('reader'),
        partitions: 3,
        replicationFactor: 1,
      }),
    topic: async (prefix, partitions) => {
      const name = uniqueName(prefix);
      await ensureTopics(kafka, [name], { partitions, replicationFactor: 1 });
      return userTagsTopic(name);
    },
    publishRaw: async (topic, key, value) => {
      const producer = kafka.producer(options.deadLetterProducerConfig());
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key, value }] });
      await producer.disconnect();
    },
    deadLetters: async (topic, count) => readTopic(brokers, deadLetterTopicOf(topic), count),
    requestCount: (publisher) => (publisher as KafkaMessagePublisher).requestCount,
    close: async () => {
      for (const close of closers.reverse()) await close().catch(() => undefined);
    },
  };
}

/** Reads `topic` from the beginning until `count` messages arrived (raw, not decoded). */
async function readTopic(brokers: string[], topic: string, count: number): Promise<RawMessage[]> {
  const consumer = new Kafka({ clientId: 'dlq-reader', brokers, logLevel: logLevel.NOTHING }).consumer({
    groupId: `dlq-reader-${Date.now()}-${Math.random()}`,
    maxWaitTimeInMs: 100,
  });
  const found: RawMessage[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        found.push({
          offset: message.offset,
          key: message.key,
          value: message.value,
          headers,
          timestamp: Number(message.timestamp),
        });
      },
    });
    await eventually(() => found.length >= count, 30_000);
  } finally {
    await consumer.disconnect();
  }
  return found;
}

export async function eventually(condition: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A started consumer that records every batch. */
export interface Recorder<T> {
  readonly handle: ConsumerHandle;
  readonly batches: ConsumedBatch<T>[];
  readonly messages: ConsumedMessage<T>[];
  until(condition: (messages: readonly ConsumedMessage<T>[]) => boolean, what?: string): Promise<void>;
}

export async function record<T>(
  consumer: MessageConsumer,
  opts: Omit<ConsumerOptions<T>, 'onBatch'> & { onBatch?: (batch: ConsumedBatch<T>) => Promise<void> },
): Promise<Recorder<T>> {
  const batches: ConsumedBatch<T>[] = [];
  const messages: ConsumedMessage<T>[] = [];
  const handle = await consumer.start<T>({
    ...opts,
    onBatch: async (batch) => {
      await opts.onBatch?.(batch);
      batches.push(batch);
      messages.push(...batch.messages);
    },
  });
  return {
    handle,
    batches,
    messages,
    until: (condition, what = 'expected messages') => eventually(() => condition(messages), 60_000, what),
  };
}
