import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { ClientKafka, CustomTransportStrategy, ServerKafka } from '@nestjs/microservices';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { ReadinessRegistry } from '@lib/platform/health/readiness.registry';
import { DeadLetterSink } from './dead-letter/dead-letter';
import { InMemoryBroker, sharedInMemoryBroker } from './in-process/in-memory.broker';
import { InMemoryDeadLetterSink, InProcessMessageConsumer } from './in-process/in-process-message.consumer';
import { InProcessMessagePublisher } from './in-process/in-process-message.publisher';
import { InProcessTopicReader } from './in-process/in-process-topic.reader';
import { InProcessTransactionalPublisher } from './in-process/in-process-transactional.publisher';
import { KafkaDeadLetterSink } from './kafka/kafka-dead-letter.sink';
import { KafkaMessageConsumer } from './kafka/kafka-message.consumer';
import { KafkaMessagePublisher } from './kafka/kafka-message.publisher';
import { KafkaOptionsFactory } from './kafka/kafka-options.factory';
import { ensureTopics } from './kafka/kafka-topic.admin';
import { KafkaTopicReader } from './kafka/kafka-topic.reader';
import { KafkaTransactionalPublisher } from './kafka/kafka-transactional.publisher';
import { MessageConsumer, MessagePublisher, TopicReader, TopicSpec, TransactionalPublisher } from './messaging';
import { MessagingConfig } from './messaging.config';
import { InProcessClient } from './nest/in-process.client';
import { InProcessTransport } from './nest/in-process.transport';
import { restoreTraceContext } from './nest/trace-context.hook';
import type { AvroRecordSchema } from './schemas/avro-schema.types';
import { deribitTradeSchemaV1 } from './schemas/deribit-trade.schema';
import { SchemaCatalog } from './schemas/schema.catalog';
import { tradeStatsSchemaV1 } from './schemas/trade-stats.schema';
import { userTagSchemaV1 } from './schemas/user-tag.schema';
import { AvroSerde } from './serde/avro.serde';
import { ConfluentSerde } from './serde/confluent.serde';
import { SingleObjectSerde } from './serde/single-object.serde';
import { messagingTopics } from './topics';
import { setupTracing } from './tracing/tracing.setup';

export interface KafkaAvroModuleOptions {
  /** The app's name: default Kafka client id, part of the transactional id, name of the readiness check. */
  readonly app: string;
  /** The app's validated config (any app config includes the transport variables). */
  readonly config: MessagingConfig;
  /**
   * Topics the app uses: created at start-up when missing (Kafka, with their `.dlq`), and what Nest
   * clients and servers may emit to and handle. Default: user tags, Deribit trades, trade stats.
   */
  readonly topics?: readonly TopicSpec<never>[];
  /** The app's own Avro records (current versions), and other known versions of any record. */
  readonly schemas?: { readonly current?: readonly AvroRecordSchema[]; readonly known?: readonly AvroRecordSchema[] };
  /**
   * Transactional id of this instance. When given, it is registered at start-up (fencing an older
   * instance and aborting its open transaction) before the app's bootstrap hooks run. Default
   * `<client id>-tx`, registered on first use. Replicas need distinct ids.
   */
  readonly transactionalId?: string;
  /** In-process transport: the broker to use; default the process-wide one. */
  readonly broker?: InMemoryBroker;
}

export const KAFKA_AVRO_OPTIONS = Symbol('KAFKA_AVRO_OPTIONS');

interface Transport {
  readonly publisher: MessagePublisher & { close(): unknown };
  readonly consumer: MessageConsumer & { close(): Promise<void> };
  readonly transactional: TransactionalPublisher;
  readonly reader: TopicReader;
  readonly deadLetters: DeadLetterSink;
}

/**
 * Everything messaging for one app, for the configured TRANSPORT: the ports (publisher, consumer,
 * transactional publisher, topic reader), the Nest transports
 * and their lifecycle. Start-up (Kafka): topics created, publisher connected, transactional id
 * registered if configured; failing that, the app does not start, with a message naming
 * KAFKA_BROKERS. Shutdown happens in onApplicationShutdown, after the HTTP server has closed, so
 * requests still in flight can publish.
 */
@Injectable()
export class MessagingRuntime implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('Messaging');
  readonly catalog: SchemaCatalog;
  readonly serde: AvroSerde;
  readonly topics: readonly TopicSpec<unknown>[];
  /** Kafka only. */
  readonly kafkaOptions: KafkaOptionsFactory | undefined;
  /** In-process only. */
  readonly broker: InMemoryBroker | undefined;
  private readonly transport: Transport;
  private started = false;

  constructor(
    @Inject(KAFKA_AVRO_OPTIONS) private readonly options: KafkaAvroModuleOptions,
    @Optional() private readonly readiness?: ReadinessRegistry,
  ) {
    const { config } = options;
    setupTracing({ serviceName: options.app, exporterEnabled: config.OTEL_EXPORTER_ENABLED });
    this.catalog = new SchemaCatalog(
      [userTagSchemaV1, deribitTradeSchemaV1, tradeStatsSchemaV1, ...(options.schemas?.current ?? [])],
      options.schemas?.known ?? [],
    );
    this.serde =
      config.SCHEMA_REGISTRY_URL === undefined
        ? new SingleObjectSerde(this.catalog)
        : new ConfluentSerde(new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL }), this.catalog);
    this.topics =
      (options.topics as readonly TopicSpec<unknown>[] | undefined) ?? Object.values(messagingTopics(config));
    if (config.TRANSPORT === 'kafka') {
      this.kafkaOptions = new KafkaOptionsFactory(config, options.app);
      this.broker = undefined;
      this.transport = this.kafkaTransport(this.kafkaOptions);
    } else {
      this.kafkaOptions = undefined;
      this.broker = options.broker ?? sharedInMemoryBroker(config.KAFKA_TOPIC_PARTITIONS);
      this.transport = this.inProcessTransport(this.broker);
    }
  }

  get publisher(): MessagePublisher {
    return this.transport.publisher;
  }

  get consumer(): MessageConsumer {
    return this.transport.consumer;
  }

  get transactional(): TransactionalPublisher {
    return this.transport.transactional;
  }

  get reader(): TopicReader {
    return this.transport.reader;
  }

  get deadLetters(): DeadLetterSink {
    return this.transport.deadLetters;
  }

  async onModuleInit(): Promise<void> {
    this.readiness?.register(`messaging:${this.options.app}`, () => {
      if (!this.started) throw new Error('messaging is starting');
      if (!this.transport.publisher.isReady())
        throw new Error(`not connected to Kafka (${this.options.config.KAFKA_BROKERS.join(',')})`);
    });
    const names = this.topics.map((t) => t.name);
    if (this.broker !== undefined) {
      for (const name of names) this.broker.createTopic(name, this.options.config.KAFKA_TOPIC_PARTITIONS);
    } else {
      const kafkaOptions = this.kafkaOptions as KafkaOptionsFactory;
      try {
        await ensureTopics(kafkaOptions.kafka('admin'), names, {
          partitions: this.options.config.KAFKA_TOPIC_PARTITIONS,
          replicationFactor: this.options.config.KAFKA_REPLICATION_FACTOR,
        });
        await (this.transport.publisher as KafkaMessagePublisher).connect();
        if (this.options.transactionalId !== undefined) {
          await (this.transport.transactional as KafkaTransactionalPublisher).connect();
        }
      } catch (err) {
        throw new Error(
          `Kafka at ${this.options.config.KAFKA_BROKERS.join(',')} (KAFKA_BROKERS) is not usable: ${(err as Error).message}`,
          { cause: err },
        );
      }
    }
    this.started = true;
  }

  async onApplicationShutdown(): Promise<void> {
    const t = this.transport;
    await t.consumer.close();
    await t.publisher.close();
    await (t.transactional as Partial<{ close(): Promise<void> }>).close?.();
    await (t.deadLetters as Partial<{ close(): Promise<void> }>).close?.();
    this.log.log('messaging closed');
  }

  /**
   * A Nest microservice strategy consuming this app's topics as consumer group `groupId`, for
   * `app.connectMicroservice({ strategy })`: ServerKafka with the Avro deserializer (Kafka), or the
   * in-process transport. Handlers run in the trace context of their message. A group without a
   * committed offset starts at the beginning unless `fromBeginning` is false.
   */
  nestServer(groupId: string, opts: { fromBeginning?: boolean } = {}): CustomTransportStrategy {
    const fromBeginning = opts.fromBeginning ?? true;
    if (this.broker !== undefined) {
      return new InProcessTransport({
        broker: this.broker,
        groupId,
        serde: this.serde,
        topics: this.topics,
        deadLetters: this.deadLetters,
        fromBeginning,
      });
    }
    const server = new ServerKafka(
      (this.kafkaOptions as KafkaOptionsFactory).nestServerOptions(
        groupId,
        this.serde,
        this.topics,
        this.deadLetters,
        fromBeginning,
      ),
    );
    server.setOnProcessingStartHook(restoreTraceContext);
    return server;
  }

  /** A Nest client emitting Avro events to this app's topics: ClientKafka, or the in-process client. */
  nestClient(): ClientKafka | InProcessClient {
    if (this.broker !== undefined) return new InProcessClient(this.broker, this.serde, this.topics);
    return new ClientKafka((this.kafkaOptions as KafkaOptionsFactory).nestClientOptions(this.serde, this.topics));
  }

  private kafkaTransport(kafkaOptions: KafkaOptionsFactory): Transport {
    const kafka = kafkaOptions.kafka('consumer');
    const deadLetters = new KafkaDeadLetterSink(kafkaOptions.kafka('dlq'), kafkaOptions);
    return {
      publisher: KafkaMessagePublisher.fromOptions(kafkaOptions, this.serde),
      consumer: new KafkaMessageConsumer(kafka, kafkaOptions, this.serde, deadLetters),
      transactional: new KafkaTransactionalPublisher(
        kafkaOptions.kafka('tx'),
        kafkaOptions,
        this.serde,
        this.options.transactionalId ?? kafkaOptions.defaultTransactionalId(),
      ),
      reader: new KafkaTopicReader(kafkaOptions.kafka('reader'), this.serde, {
        consumerConfig: (groupId) => kafkaOptions.consumerConfig(groupId, { maxWaitTimeInMs: 100 }),
        groupPrefix: `${kafkaOptions.clientId}-read`,
        partitions: this.options.config.KAFKA_TOPIC_PARTITIONS,
        replicationFactor: this.options.config.KAFKA_REPLICATION_FACTOR,
      }),
      deadLetters,
    };
  }

  private inProcessTransport(broker: InMemoryBroker): Transport {
    const deadLetters = new InMemoryDeadLetterSink(broker);
    return {
      publisher: new InProcessMessagePublisher(broker, this.serde),
      consumer: new InProcessMessageConsumer(broker, this.serde, deadLetters),
      transactional: new InProcessTransactionalPublisher(broker, this.serde),
      reader: new InProcessTopicReader(broker, this.serde),
      deadLetters,
    };
  }
}
