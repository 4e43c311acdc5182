/**
 * A broker outage, on a broker of this test's own (the shared test broker cannot be stopped): the
 * publisher answers within its timeout while Kafka is down, fails fast once it knows, and both the
 * publisher and a running consumer carry on by themselves when the broker is back.
 */
import type { UserTag } from '@lib/domain';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaServer } from '../../../../scripts/servers/kafka-server';
import { freePort } from '../../../../scripts/servers/process-utils';
import { PublishError } from '../messaging';
import { MessagingConfig } from '../messaging.config';
import { eventually, serde } from '../testing/messaging-harness';
import { sampleUserTag } from '../testing/sample-values';
import { userTagsTopic } from '../topics';
import { KafkaDeadLetterSink } from './kafka-dead-letter.sink';
import { KafkaMessageConsumer } from './kafka-message.consumer';
import { KafkaMessagePublisher } from './kafka-message.publisher';
import { KafkaOptionsFactory } from './kafka-options.factory';
import { ensureTopics } from './kafka-topic.admin';

jest.setTimeout(240_000);

const TIMEOUT_MS = 1_000;

it('fails within the timeout while the broker is down, then recovers by itself', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kafka-outage-'));
  const port = await freePort();
  let server: KafkaServer | undefined = await KafkaServer.start({ port, dataDir });
  const config: MessagingConfig = {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: server.brokers,
    KAFKA_CLIENT_ID: 'outage-test',
    KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
    KAFKA_REQUEST_TIMEOUT_MS: 30_000,
    KAFKA_SESSION_TIMEOUT_MS: 10_000,
    KAFKA_TOPIC_PARTITIONS: 2,
    KAFKA_REPLICATION_FACTOR: 1,
    SCHEMA_REGISTRY_URL: undefined,
    TOPIC_USER_TAGS: 'outage-tags',
    TOPIC_DERIBIT_TRADES: 'unused',
    TOPIC_TRADE_STATS: 'unused',
    OTEL_EXPORTER_ENABLED: false,
    KAFKA_PRODUCE_TIMEOUT_MS: TIMEOUT_MS,
  };
  const options = new KafkaOptionsFactory(config, 'outage-test');
  const topic = userTagsTopic('outage-tags');
  const publisher = KafkaMessagePublisher.fromOptions(options, serde, { lingerMs: 1, batchMaxMessages: 500 });
  const consumer = new KafkaMessageConsumer(
    options.kafka('consumer'),
    options,
    serde,
    new KafkaDeadLetterSink(options.kafka('dlq'), options),
    {
      consumer: { heartbeatInterval: 500, sessionTimeout: 10_000, maxWaitTimeInMs: 200 },
    },
  );
  const received: number[] = [];
  try {
    await ensureTopics(options.kafka('admin'), [topic.name], { partitions: 2, replicationFactor: 1 });
    await publisher.connect();
    const handle = await consumer.start<UserTag>({
      groupId: 'outage-group',
      topic,
      fromBeginning: true,
      onBatch: async (b) => {
        received.push(...b.messages.map((m) => m.value.product_info.price));
      },
    });
    const tag = (price: number) =>
      sampleUserTag(price, { product_info: { ...sampleUserTag(price).product_info, price } });
    await publisher.publish(topic, [tag(1)]);
    await eventually(() => received.includes(1), 30_000, 'the message before the outage');

    await server.stop();
    server = undefined;

    // While the broker is down every call is answered within its timeout (plus a little), never hangs.
    const outcomes: { error: unknown; ms: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const error = await publisher.publish(topic, [tag(100 + i)]).catch((e: unknown) => e);
      outcomes.push({ error, ms: Date.now() - started });
    }
    for (const o of outcomes) {
      expect(o.error).toBeInstanceOf(PublishError);
      expect(o.ms).toBeLessThan(TIMEOUT_MS + 500);
    }
    expect(publisher.isReady()).toBe(false);

    server = await KafkaServer.start({ port, dataDir });
    // Recovery: the next publish after reconnecting succeeds, with no help from outside.
    const recoveredAt = Date.now();
    await eventually(() => publisher.isReady(), 60_000, 'publisher reconnected');
    let delivered = false;
    while (!delivered && Date.now() - recoveredAt < 60_000) {
      delivered = await publisher.publish(topic, [tag(2)]).then(
        () => true,
        () => false,
      );
    }
    expect(delivered).toBe(true);
    await eventually(() => received.includes(2), 60_000, 'the consumer receiving after the outage');
    await handle.stop();
  } finally {
    await consumer.close().catch(() => undefined);
    await publisher.close(100).catch(() => undefined);
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
