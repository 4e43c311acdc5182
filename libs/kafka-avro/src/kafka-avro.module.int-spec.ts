/**
 * KafkaAvroModule in an app: topics created at start-up, the ports injected, readiness registered,
 * and clients closed only in onApplicationShutdown (requests still publish while the app drains).
 */
import type { UserTag } from '@lib/domain';
import { ReadinessRegistry } from '@lib/platform/health/readiness.registry';
import { BeforeApplicationShutdown, Global, INestApplicationContext, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Kafka, logLevel } from 'kafkajs';
import { testKafkaBrokers, uniqueName } from '../../../test/support/test-env';
import { InMemoryBroker, inProcessTransport } from '@lib/in-process-log';
import { KafkaAvroModule } from './kafka-avro.module';
import { MessageConsumer, MessagePublisher, PublishError } from './messaging';
import { MessagingConfig } from './messaging.config';
import { sampleUserTag } from './testing/sample-values';
import { eventually } from './testing/messaging-harness';
import { userTagsTopic } from './topics';

jest.setTimeout(60_000);

/** Publishes while the app is shutting down, as an HTTP request in flight would. */
@Injectable()
class LateRequest implements BeforeApplicationShutdown {
  static topic = userTagsTopic('unset');
  static outcome: unknown;

  constructor(private readonly publisher: MessagePublisher) {}

  async beforeApplicationShutdown(): Promise<void> {
    LateRequest.outcome = await this.publisher.publish(LateRequest.topic, [sampleUserTag(99)]).then(
      () => 'published',
      (err: unknown) => err,
    );
  }
}

@Global()
@Module({ providers: [ReadinessRegistry], exports: [ReadinessRegistry] })
class ReadinessModule {}

function config(transport: 'kafka' | 'in-process', topic: string): MessagingConfig {
  return {
    TRANSPORT: transport,
    KAFKA_BROKERS: transport === 'kafka' ? testKafkaBrokers() : ['127.0.0.1:9092'],
    KAFKA_CLIENT_ID: undefined,
    KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
    KAFKA_REQUEST_TIMEOUT_MS: 30_000,
    KAFKA_SESSION_TIMEOUT_MS: 10_000,
    KAFKA_TOPIC_PARTITIONS: 3,
    KAFKA_REPLICATION_FACTOR: 1,
    SCHEMA_REGISTRY_URL: undefined,
    TOPIC_USER_TAGS: topic,
    TOPIC_DERIBIT_TRADES: uniqueName('module-trades'),
    TOPIC_TRADE_STATS: uniqueName('module-stats'),
    OTEL_EXPORTER_ENABLED: false,
  };
}

describe.each(['kafka', 'in-process'] as const)('KafkaAvroModule (%s)', (transport) => {
  it('creates the topics, serves the ports, reports readiness, and closes only after the app drained', async () => {
    const topicName = uniqueName('module-tags');
    LateRequest.topic = userTagsTopic(topicName);
    const broker = new InMemoryBroker();
    const moduleRef = await Test.createTestingModule({
      imports: [
        ReadinessModule,
        KafkaAvroModule.forRoot({
          app: 'module-test',
          config: config(transport, topicName),
          inProcess: inProcessTransport(broker),
        }),
      ],
      providers: [LateRequest],
    }).compile();
    const app: INestApplicationContext = await moduleRef.init();
    let closed = false;
    try {
      if (transport === 'kafka') {
        const admin = new Kafka({
          clientId: 'module-test',
          brokers: testKafkaBrokers(),
          logLevel: logLevel.NOTHING,
        }).admin();
        await admin.connect();
        const { topics } = await admin.fetchTopicMetadata({ topics: [topicName, `${topicName}.dlq`] });
        await admin.disconnect();
        expect(topics.map((t) => t.partitions.length)).toEqual([3, 3]);
      } else {
        expect(broker.partitionCount(topicName)).toBe(3);
      }

      const [, check] =
        app
          .get(ReadinessRegistry)
          .entries()
          .find(([name]) => name === 'messaging:module-test') ?? [];
      await expect(Promise.resolve().then(check)).resolves.toBeUndefined();

      const publisher = app.get(MessagePublisher);
      await publisher.publish(LateRequest.topic, [sampleUserTag(1)]);
      const received: UserTag[] = [];
      const handle = await app.get(MessageConsumer).start<UserTag>({
        groupId: uniqueName('module-group'),
        topic: LateRequest.topic,
        fromBeginning: true,
        onBatch: async (b) => {
          received.push(...b.messages.map((m) => m.value));
        },
      });
      await eventually(() => received.length >= 1);
      expect(received).toEqual([sampleUserTag(1)]);
      expect(handle.isRunning()).toBe(true);

      await app.close();
      closed = true;
      expect(LateRequest.outcome).toBe('published');
      expect(handle.isRunning()).toBe(false);
      const afterClose = await publisher.publish(LateRequest.topic, [sampleUserTag(2)]).catch((e: unknown) => e);
      expect(afterClose).toBeInstanceOf(PublishError);
    } finally {
      if (!closed) await app.close();
    }
  });
});
