import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { CustomTransportStrategy } from '@nestjs/microservices';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { ReadinessRegistry } from '@lib/platform/health/readiness.registry';
import { DeadLetterSink } from './dead-letter/dead-letter';
import { kafkaTransport } from './kafka/kafka.transport';
import { MessageConsumer, MessagePublisher, TopicReader, TopicSpec, TransactionalPublisher } from './messaging';
import { MessagingConfig } from './messaging.config';
import { MessagingTransport, MessagingTransportFactory, NestEventClient } from './messaging.transport';
import type { AvroRecordSchema } from './schemas/avro-schema.types';
import { deribitTradeSchemaV1 } from './schemas/deribit-trade.schema';
import { SchemaCatalog } from './schemas/schema.catalog';
import { tradeStatsSchemaV1, tradeStatsSchemaV2 } from './schemas/trade-stats.schema';
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
  /**
   * The transport when TRANSPORT=in-process: `inProcessTransport(broker?)` of `@lib/in-process-log`,
   * which only the embedded mode, tests and benches import. Without it, TRANSPORT=in-process does not
   * start (a standalone app's log would reach no other process).
   */
  readonly inProcess?: MessagingTransportFactory;
}

export const KAFKA_AVRO_OPTIONS = Symbol('KAFKA_AVRO_OPTIONS');

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
  /** The transport TRANSPORT chose, Kafka or the in-process log. */
  readonly transport: MessagingTransport;
  private started = false;

  constructor(
    @Inject(KAFKA_AVRO_OPTIONS) private readonly options: KafkaAvroModuleOptions,
    @Optional() private readonly readiness?: ReadinessRegistry,
  ) {
    const { config } = options;
    setupTracing({ serviceName: options.app, exporterEnabled: config.OTEL_EXPORTER_ENABLED });
    this.catalog = new SchemaCatalog(
      [userTagSchemaV1, deribitTradeSchemaV1, tradeStatsSchemaV2, ...(options.schemas?.current ?? [])],
      [tradeStatsSchemaV1, ...(options.schemas?.known ?? [])],
    );
    this.serde =
      config.SCHEMA_REGISTRY_URL === undefined
        ? new SingleObjectSerde(this.catalog)
        : new ConfluentSerde(new SchemaRegistry({ host: config.SCHEMA_REGISTRY_URL }), this.catalog);
    this.topics =
      (options.topics as readonly TopicSpec<unknown>[] | undefined) ?? Object.values(messagingTopics(config));
    const context = {
      app: options.app,
      config,
      serde: this.serde,
      topics: this.topics,
      transactionalId: options.transactionalId,
    };
    if (config.TRANSPORT === 'kafka') {
      this.transport = kafkaTransport(context);
    } else if (options.inProcess !== undefined) {
      this.transport = options.inProcess(context);
    } else {
      throw new Error(
        `${options.app}: TRANSPORT=in-process is the embedded mode's (npm start runs every app in one process); ` +
          'an app on its own needs TRANSPORT=kafka and KAFKA_BROKERS',
      );
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
      this.transport.checkReady();
    });
    await this.transport.start();
    this.started = true;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.close();
    this.log.log('messaging closed');
  }

  /**
   * A Nest microservice strategy consuming this app's topics as consumer group `groupId`, for
   * `app.connectMicroservice({ strategy })`: ServerKafka with the Avro deserializer (Kafka), or the
   * in-process transport. Handlers run in the trace context of their message. A group without a
   * committed offset starts at the beginning unless `fromBeginning` is false.
   */
  nestServer(groupId: string, opts: { fromBeginning?: boolean } = {}): CustomTransportStrategy {
    return this.transport.nestServer(groupId, { fromBeginning: opts.fromBeginning ?? true });
  }

  /** A Nest client emitting Avro events to this app's topics: ClientKafka, or the in-process client. */
  nestClient(): NestEventClient {
    return this.transport.nestClient();
  }
}
