import { Logger } from '@nestjs/common';
import type { KafkaOptions } from '@nestjs/microservices';
import {
  ConsumerConfig,
  Kafka,
  KafkaConfig,
  logCreator,
  logLevel,
  Partitioners,
  ProducerConfig,
  RetryOptions,
} from 'kafkajs';
import { DeadLetterSink } from '../dead-letter/dead-letter';
import type { TopicSpec } from '../messaging';
import { MessagingConfig, producerTuning } from '../messaging.config';
import { AvroKafkaDeserializer } from '../nest/avro-kafka.deserializer';
import { AvroKafkaSerializer } from '../nest/avro-kafka.serializer';
import { AvroSerde } from '../serde/avro.serde';
import { fixKafkajsRequestQueue } from './kafkajs-request-queue.fix';

/** kafkajs warns about this on every idempotent producer with bounded retries; see publisherProducerConfig. */
const BOUNDED_RETRIES_WARNING = 'Limiting retries for the idempotent producer';

/** kafkajs logs through Nest's logger, at WARN and above (its INFO is one line per join and commit). */
const nestLogCreator: logCreator = () => {
  const logger = new Logger('kafkajs');
  return ({ level, log }) => {
    const { message, ...extra } = log;
    if (message.startsWith(BOUNDED_RETRIES_WARNING)) return;
    const detail = 'error' in extra ? ` (${String(extra.error)})` : '';
    const text = `${log.logger ?? ''} ${message}${detail}`.trim();
    if (level === logLevel.ERROR) logger.error(text);
    else if (level === logLevel.WARN) logger.warn(text);
    else logger.debug(text);
  };
};

/**
 * kafkajs retry settings whose total waiting stays within `budgetMs`: 100 ms, doubling. A caller that
 * gives up after `budgetMs` should not leave a request retrying much longer behind its back.
 */
export function retryWithin(budgetMs: number): RetryOptions {
  let retries = 0;
  let total = 0;
  for (let delay = 100; total + delay <= budgetMs; delay *= 2) {
    total += delay;
    retries += 1;
  }
  return { initialRetryTime: 100, multiplier: 2, maxRetryTime: Math.max(100, budgetMs), retries: Math.max(1, retries) };
}

/**
 * The one place Kafka client settings come from: kafkajs configs for the publisher, consumers,
 * transactions and admin of this library, and the options of Nest's `ClientKafka` and Kafka
 * microservice server, so every client of an app connects alike.
 */
export class KafkaOptionsFactory {
  constructor(
    readonly config: MessagingConfig,
    /** The app name: the default client id, and part of the default transactional id. */
    readonly app: string,
  ) {}

  get clientId(): string {
    return this.config.KAFKA_CLIENT_ID ?? this.app;
  }

  /** Connection settings; `role` is appended to the client id so broker logs tell clients apart. */
  kafkaConfig(role: string, overrides: Partial<KafkaConfig> = {}): KafkaConfig {
    return {
      clientId: `${this.clientId}-${role}`,
      brokers: this.config.KAFKA_BROKERS,
      connectionTimeout: this.config.KAFKA_CONNECTION_TIMEOUT_MS,
      requestTimeout: this.config.KAFKA_REQUEST_TIMEOUT_MS,
      retry: { initialRetryTime: 100, maxRetryTime: 5_000, retries: 8 },
      logLevel: logLevel.WARN,
      logCreator: nestLogCreator,
      ...overrides,
    };
  }

  kafka(role: string, overrides: Partial<KafkaConfig> = {}): Kafka {
    fixKafkajsRequestQueue();
    return new Kafka(this.kafkaConfig(role, overrides));
  }

  /**
   * The coalescing publisher's client: a broker outage must surface within the caller's timeout, so
   * connecting and each request are bounded by it (requests get twice that, so a slow but live broker
   * is not cut off), never by the 30 s defaults.
   */
  publisherKafkaConfig(): KafkaConfig {
    const timeoutMs = producerTuning(this.config).KAFKA_PRODUCE_TIMEOUT_MS;
    return this.kafkaConfig('publisher', {
      connectionTimeout: Math.min(this.config.KAFKA_CONNECTION_TIMEOUT_MS, Math.max(timeoutMs, 100)),
      requestTimeout: Math.min(this.config.KAFKA_REQUEST_TIMEOUT_MS, Math.max(2 * timeoutMs, 1_000)),
      retry: retryWithin(timeoutMs),
    });
  }

  /**
   * Idempotent, one request in flight (what kafkajs requires for idempotence), retries bounded by the
   * produce timeout. Bounded retries void the idempotent producer's sequence guarantees after a
   * failed send, so the publisher replaces its producer after any failure (a fresh producer id).
   */
  publisherProducerConfig(): ProducerConfig {
    return {
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: retryWithin(producerTuning(this.config).KAFKA_PRODUCE_TIMEOUT_MS),
    };
  }

  /** A transactional producer; transactions fail (and abort) rather than retry for minutes. */
  transactionalProducerConfig(transactionalId: string): ProducerConfig {
    return {
      idempotent: true,
      transactionalId,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: retryWithin(5_000),
    };
  }

  /** Dead letters: idempotent; a failed write makes the consumer retry the batch, so plain retries suffice. */
  deadLetterProducerConfig(): ProducerConfig {
    return {
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry: retryWithin(5_000),
    };
  }

  /** The default transactional id: one per app; replicas of one app need distinct ones. */
  defaultTransactionalId(): string {
    return `${this.clientId}-tx`;
  }

  /**
   * read_committed (kafkajs' default too, set explicitly because exactly-once depends on it); a short
   * fetch wait so that stopping a consumer takes at most half a second.
   */
  consumerConfig(groupId: string, overrides: Partial<ConsumerConfig> = {}): ConsumerConfig {
    return {
      groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 500,
      sessionTimeout: this.config.KAFKA_SESSION_TIMEOUT_MS,
      heartbeatInterval: Math.max(300, Math.floor(this.config.KAFKA_SESSION_TIMEOUT_MS / 10)),
      ...overrides,
    };
  }

  /**
   * Options of Nest's `ClientKafka` (`ClientsModule.register([{ name, transport: Transport.KAFKA,
   * options }])`): Avro values through our serializer, producer only (events, no replies), client id
   * as configured (no `-client` suffix).
   */
  nestClientOptions(serde: AvroSerde, topics: readonly TopicSpec<unknown>[]): NonNullable<KafkaOptions['options']> {
    return {
      postfixId: '',
      client: this.kafkaConfig('nest-client') as NonNullable<KafkaOptions['options']>['client'],
      // kafkajs' idempotent defaults (retries without end): ClientKafka cannot replace its producer
      // after a failed send as our publisher does, so it must not give up on a sequence number.
      // An emit therefore waits for Kafka as long as it takes; use MessagePublisher for bounded answers.
      producer: {
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      } as NonNullable<KafkaOptions['options']>['producer'],
      producerOnlyMode: true,
      send: { acks: -1 },
      serializer: new AvroKafkaSerializer(serde, topics),
    };
  }

  /**
   * Options of Nest's Kafka microservice server: the raw Buffer reaches our deserializer
   * (`keepBinary`), poison messages go to the dead-letter topic, and the group id is exactly
   * `groupId` (no `-server` suffix).
   */
  nestServerOptions(
    groupId: string,
    serde: AvroSerde,
    topics: readonly TopicSpec<unknown>[],
    deadLetters: DeadLetterSink,
    fromBeginning = true,
  ): NonNullable<KafkaOptions['options']> {
    return {
      postfixId: '',
      client: this.kafkaConfig('nest-server') as NonNullable<KafkaOptions['options']>['client'],
      consumer: this.consumerConfig(groupId) as NonNullable<KafkaOptions['options']>['consumer'],
      subscribe: { fromBeginning },
      parser: { keepBinary: true },
      deserializer: new AvroKafkaDeserializer(serde, topics, deadLetters),
    };
  }
}
