/**
 * The messaging contract (messaging.ts), run against both implementations: Kafka (the real broker of
 * the integration run) and the in-process transport of the embedded mode.
 */
import type { UserTag } from '@lib/domain';
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { createServer, Server, Socket } from 'node:net';
import { register } from 'prom-client';
import { testKafkaBrokers, uniqueName } from '../../../test/support/test-env';
import { DLQ_HEADERS } from './dead-letter/dead-letter';
import { KafkaMessagePublisher } from './kafka/kafka-message.publisher';
import { KafkaOptionsFactory } from './kafka/kafka-options.factory';
import { MessagingConfig } from './messaging.config';
import { ConsumedMarker, ConsumerHandle, MARKER_HEADER, PublishError } from './messaging';
import { sampleUserTag } from './testing/sample-values';
import { userTagsTopic } from './topics';
import {
  eventually,
  inProcessHarness,
  kafkaHarness,
  MessagingHarness,
  record,
  serde,
} from './testing/messaging-harness';
import { withTraceContext } from './tracing/trace-context';
import { setupTracing } from './tracing/tracing.setup';

jest.setTimeout(60_000);
setupTracing({ serviceName: 'contract-test', exporterEnabled: false });

const tag = (cookie: string, seq: number): UserTag =>
  sampleUserTag(seq, { cookie, product_info: { ...sampleUserTag(seq).product_info, price: seq } });
const priceOf = (m: { value: UserTag }): number => m.value.product_info.price;

describe.each([
  ['in-process', () => inProcessHarness()],
  ['kafka', () => kafkaHarness(testKafkaBrokers(), uniqueName)],
])('messaging contract: %s', (_name, makeHarness) => {
  let h: MessagingHarness;

  beforeAll(() => {
    h = makeHarness();
  });

  afterAll(async () => {
    await h.close();
  });

  it('keeps the order of each key across concurrent publishers and partitions, and bounds batches by maxBatchMessages', async () => {
    const topic = await h.topic('order', 3);
    const publisher = await h.publisher();
    const cookies = Array.from({ length: 8 }, (_, i) => `c${i}`);
    await Promise.all([
      ...cookies.map(async (cookie) => {
        for (let seq = 0; seq < 25; seq++) await publisher.publish(topic, [tag(cookie, seq)]);
      }),
      publisher.publish(
        topic,
        Array.from({ length: 50 }, (_, seq) => tag('bulk', seq)),
      ),
    ]);

    const rec = await record<UserTag>(h.consumer(), {
      groupId: uniqueName('order'),
      topic,
      fromBeginning: true,
      maxBatchMessages: 7,
    });
    await rec.until((m) => m.length >= 8 * 25 + 50);
    await rec.handle.stop();

    for (const cookie of [...cookies, 'bulk']) {
      const ofCookie = rec.messages.filter((m) => m.key === cookie);
      expect(ofCookie.map(priceOf)).toEqual(Array.from({ length: cookie === 'bulk' ? 50 : 25 }, (_, i) => i));
      expect(new Set(ofCookie.map((m) => m.partition)).size).toBe(1);
    }
    expect(new Set(rec.messages.map((m) => m.partition)).size).toBeGreaterThan(1);
    expect(Math.max(...rec.batches.map((b) => b.messages.length))).toBeLessThanOrEqual(7);
    for (const b of rec.batches)
      expect(b.nextOffset).toBe(String(Number(b.messages[b.messages.length - 1].offset) + 1));
  });

  it('resolves every one of many concurrent publish calls, sharing produce requests', async () => {
    const topic = await h.topic('coalesce', 3);
    const publisher = await h.publisher({ lingerMs: 5 });
    const before = h.requestCount(publisher) ?? 0;
    await Promise.all(Array.from({ length: 400 }, (_, i) => publisher.publish(topic, [tag(`k${i % 40}`, i)])));
    const requests = h.requestCount(publisher);
    if (requests !== undefined) expect(requests - before).toBeLessThanOrEqual(40);

    const rec = await record<UserTag>(h.consumer(), { groupId: uniqueName('coalesce'), topic, fromBeginning: true });
    await rec.until((m) => m.length >= 400);
    await rec.handle.stop();
    expect(new Set(rec.messages.map(priceOf)).size).toBe(400);
  });

  it('rejects a value that does not fit the schema with PublishError(rejected), writing none of the call', async () => {
    const topic = await h.topic('reject', 1);
    const publisher = await h.publisher();
    const bad = sampleUserTag(1, { product_info: { ...sampleUserTag(1).product_info, price: 2 ** 40 } });
    const error = await publisher.publish(topic, [tag('x', 1), bad]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).reason).toBe('rejected');
    await publisher.publish(topic, [tag('x', 2)]);

    const rec = await record<UserTag>(h.consumer(), { groupId: uniqueName('reject'), topic, fromBeginning: true });
    await rec.until((m) => m.length >= 1);
    await rec.handle.stop();
    expect(rec.messages.map(priceOf)).toEqual([2]);
  });

  it('resumes after a restart without losing or repeating a message when it commits', async () => {
    const topic = await h.topic('restart', 2);
    const publisher = await h.publisher();
    const groupId = uniqueName('restart');
    await publisher.publish(
      topic,
      Array.from({ length: 60 }, (_, i) => tag(`k${i % 6}`, i)),
    );

    const first = await record<UserTag>(h.consumer(), { groupId, topic, fromBeginning: true, maxBatchMessages: 5 });
    await first.until((m) => m.length >= 20);
    await first.handle.stop();
    expect(first.handle.isRunning()).toBe(false);
    await publisher.publish(
      topic,
      Array.from({ length: 40 }, (_, i) => tag(`k${i % 6}`, 60 + i)),
    );

    const second = await record<UserTag>(h.consumer(), { groupId, topic, fromBeginning: true, maxBatchMessages: 5 });
    await second.until((m) => first.messages.length + m.length >= 100);
    // Give a duplicate the chance to show up.
    await new Promise((r) => setTimeout(r, 300));
    await second.handle.stop();

    const all = [...first.messages, ...second.messages].map(priceOf).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('retries a batch whose onBatch throws, never skipping it', async () => {
    const topic = await h.topic('retry', 1);
    const publisher = await h.publisher();
    await publisher.publish(
      topic,
      Array.from({ length: 10 }, (_, i) => tag('k', i)),
    );
    let failures = 2;
    const rec = await record<UserTag>(h.consumer(), {
      groupId: uniqueName('retry'),
      topic,
      fromBeginning: true,
      maxBatchMessages: 4,
      onBatch: async () => {
        if (failures-- > 0) throw new Error('database down');
      },
    });
    await rec.until((m) => m.length >= 10);
    await rec.handle.stop();
    expect(rec.messages.map(priceOf)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it('rewinds a partition: the batch in progress finishes, the next ones start at the offset, then it goes on', async () => {
    const topic = await h.topic('rewind', 1);
    const publisher = await h.publisher();
    await publisher.publish(
      topic,
      Array.from({ length: 12 }, (_, i) => tag('k', i)),
    );
    let rewound = false;
    const started: { handle?: ConsumerHandle } = {};
    const rec = await record<UserTag>(h.consumer(), {
      groupId: uniqueName('rewind'),
      topic,
      fromBeginning: true,
      maxBatchMessages: 4,
      resumeFrom: async (partitions) => new Map(partitions.map((p) => [p, '0'] as const)),
      onBatch: async (batch) => {
        // Rewound while its batch 4..7 is in progress: that batch is still delivered whole.
        if (!rewound && batch.messages[0].offset === '4') {
          rewound = true;
          await eventually(() => started.handle !== undefined); // start() may still be returning
          started.handle?.rewind(0, '2');
        }
      },
    });
    started.handle = rec.handle;
    await rec.until((m) => m.length >= 8 + 10);
    await publisher.publish(topic, [tag('k', 12)]);
    await rec.until((m) => m.some((x) => x.offset === '12'));
    await new Promise((r) => setTimeout(r, 200));
    await rec.handle.stop();
    const offsets = rec.messages.map((m) => Number(m.offset));
    const again = offsets.indexOf(2, 3); // the second time offset 2 comes
    expect(offsets.slice(0, again)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(offsets.slice(again)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('with external offsets, resumes exactly where told, whatever the broker has committed', async () => {
    const topic = await h.topic('external', 1);
    const publisher = await h.publisher();
    await publisher.publish(
      topic,
      Array.from({ length: 30 }, (_, i) => tag('k', i)),
    );
    const groupId = uniqueName('external');
    const from = (offset?: string) => async (partitions: readonly number[]) =>
      new Map(offset === undefined ? [] : partitions.map((p) => [p, offset] as const));
    const consume = async (resumeAt: string | undefined, expected: number) => {
      const rec = await record<UserTag>(h.consumer(), {
        groupId,
        topic,
        fromBeginning: true,
        maxBatchMessages: 4,
        resumeFrom: from(resumeAt),
      });
      await rec.until((m) => m.length >= expected);
      await new Promise((r) => setTimeout(r, 200));
      return rec;
    };

    const first = await consume('10', 20);
    expect(first.messages.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => String(10 + i)));
    // The broker's offset is only a monitoring hint: here it is ahead of where the app will resume.
    await first.handle.commit([{ topic: topic.name, partition: 0, offset: '25' }]);
    await first.handle.stop();

    const behindCommitted = await consume('12', 18);
    expect(behindCommitted.messages.map(priceOf)).toEqual(Array.from({ length: 18 }, (_, i) => 12 + i));
    await behindCommitted.handle.stop();

    const aheadOfCommitted = await consume('27', 3);
    expect(aheadOfCommitted.messages.map(priceOf)).toEqual([27, 28, 29]);
    await aheadOfCommitted.handle.stop();

    // A partition missing from the answer starts per fromBeginning, not at the committed offset.
    const unknown = await consume(undefined, 30);
    expect(unknown.messages.map(priceOf)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await unknown.handle.stop();
  });

  it('tells a consumer which partitions a rebalance took away', async () => {
    const topic = await h.topic('rebalance', 2);
    const publisher = await h.publisher();
    const groupId = uniqueName('rebalance');
    const revoked: number[] = [];
    const assignedB: number[] = [];
    const a = await record<UserTag>(h.consumer(), {
      groupId,
      topic,
      fromBeginning: true,
      onRevoked: (p) => revoked.push(...p),
    });
    const b = await record<UserTag>(h.consumer(), {
      groupId,
      topic,
      fromBeginning: true,
      resumeFrom: async (partitions) => {
        assignedB.push(...partitions);
        return new Map();
      },
    });
    await eventually(() => revoked.length === 1 && assignedB.length >= 1, 30_000, 'rebalance');
    expect(assignedB).toContain(revoked[0]);

    await publisher.publish(
      topic,
      Array.from({ length: 20 }, (_, i) => tag(`k${i}`, i)),
    );
    await eventually(() => a.messages.length + b.messages.length >= 20, 30_000);
    expect(a.messages.every((m) => m.partition !== revoked[0])).toBe(true);
    expect(b.messages.every((m) => m.partition === revoked[0])).toBe(true);
    await Promise.all([a.handle.stop(), b.handle.stop()]);
  });

  it('makes committed transactions visible and aborted ones invisible, offsets included', async () => {
    const input = await h.topic('tx-in', 1);
    const output = await h.topic('tx-out', 1);
    const publisher = await h.publisher();
    await publisher.publish(input, [tag('in', 0), tag('in', 1), tag('in', 2)]);
    const tx = h.transactional(uniqueName('tx'));
    const groupId = uniqueName('tx-group');

    await tx.inTransaction(async (t) => {
      await t.publish(output, [tag('out', 1), tag('out', 2)]);
      await t.commitOffsets(groupId, [{ topic: input.name, partition: 0, offset: '2' }]);
    });
    await expect(
      tx.inTransaction(async (t) => {
        await t.publish(output, [tag('out', 99)]);
        await t.commitOffsets(groupId, [{ topic: input.name, partition: 0, offset: '3' }]);
        throw new Error('processing failed');
      }),
    ).rejects.toThrow('processing failed');
    await tx.inTransaction(async (t) => t.publish(output, [tag('out', 3)]));

    const out = await record<UserTag>(h.consumer(), {
      groupId: uniqueName('tx-reader'),
      topic: output,
      fromBeginning: true,
    });
    await out.until((m) => m.some((x) => priceOf(x) === 3));
    await out.handle.stop();
    expect(out.messages.map(priceOf)).toEqual([1, 2, 3]);

    // The group resumes where the committed transaction put it (offset 2), not the aborted one's 3.
    const resumed = await record<UserTag>(h.consumer(), { groupId, topic: input, fromBeginning: true });
    await resumed.until((m) => m.length >= 1);
    await resumed.handle.stop();
    expect(resumed.messages.map((m) => m.offset)).toEqual(['2']);
  });

  it('reads a topic back to its end: every committed value, or the last n offsets of each partition, in order', async () => {
    const reader = h.reader();
    expect(await reader.readToEnd(userTagsTopic(uniqueName('missing')), { timeoutMs: 30_000 })).toEqual([]);
    const topic = await h.topic('read', 3);
    // A fresh Kafka topic's offsets can be unknown for a moment after its leaders are elected: the read
    // rejects then (callers restoring state retry), so wait for the first answer.
    let empty: UserTag[] | undefined;
    for (let i = 0; empty === undefined; i++) {
      empty = await reader.readToEnd(topic, { timeoutMs: 30_000 }).catch((err: unknown) => {
        if (i >= 50) throw err;
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 100));
      });
    }
    expect(empty).toEqual([]);

    const publisher = await h.publisher();
    const cookies = Array.from({ length: 6 }, (_, i) => `r${i}`);
    for (let seq = 0; seq < 10; seq++)
      await publisher.publish(
        topic,
        cookies.map((c) => tag(c, seq)),
      );
    // Committed, then aborted at the end: the aborted values are never read back.
    const tx = h.transactional(uniqueName('tx'));
    await tx.inTransaction((t) => t.publish(topic, [tag('r0', 10)]));
    await expect(
      tx.inTransaction(async (t) => {
        await t.publish(
          topic,
          cookies.map((c) => tag(c, 999)),
        );
        throw new Error('aborted');
      }),
    ).rejects.toThrow('aborted');

    // A transaction's markers may land just after it returns: until they do, the partition's stable end is
    // before its records. Read again until the committed value shows (or 10 s), then check everything.
    let all = await reader.readToEnd(topic, { timeoutMs: 30_000 });
    for (let i = 0; i < 50 && all.length < 61; i++) {
      await new Promise((r) => setTimeout(r, 200));
      all = await reader.readToEnd(topic, { timeoutMs: 30_000 });
    }
    const seqsOf = (values: readonly UserTag[], cookie: string) =>
      values.filter((v) => v.cookie === cookie).map((v) => v.product_info.price);
    expect(all).toHaveLength(61);
    for (const cookie of cookies)
      expect(seqsOf(all, cookie)).toEqual(Array.from({ length: cookie === 'r0' ? 11 : 10 }, (_, i) => i));

    // The last 4 offsets of each partition: a suffix of each cookie's values, never an aborted one
    // (on Kafka its records and the markers take offsets of that tail, so fewer come back).
    const tail = await reader.readToEnd(topic, { lastPerPartition: 4, timeoutMs: 30_000 });
    expect(tail.length).toBeGreaterThan(0);
    expect(tail.length).toBeLessThanOrEqual(12);
    expect(tail.some((v) => v.product_info.price === 999)).toBe(false);
    for (const cookie of cookies) {
      const seqs = seqsOf(tail, cookie);
      const last = cookie === 'r0' ? 10 : 9;
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => last - seqs.length + 1 + i));
    }
    if (!h.kafka) expect(tail).toHaveLength(12); // nothing but values in the in-process log
  });

  it('creates a compacted topic once, or turns compaction on for an existing one', async () => {
    const reader = h.reader();
    const fresh = userTagsTopic(uniqueName('compacted'));
    await reader.ensureTopic(fresh, { compacted: true });
    await reader.ensureTopic(fresh, { compacted: true });
    const existing = await h.topic('made-compacted', 1);
    await reader.ensureTopic(existing, { compacted: true });
    expect(await reader.readToEnd(fresh, { timeoutMs: 30_000 })).toEqual([]);
    if (!h.kafka) return; // the in-process log keeps no topic settings: its changelogs are named at start-up
    const admin = new Kafka({ brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [fresh, existing].map((t) => ({
          type: ConfigResourceTypes.TOPIC,
          name: t.name,
          configNames: ['cleanup.policy'],
        })),
      });
      expect(described.resources.map((r) => r.configEntries[0]?.configValue)).toEqual(['compact', 'compact']);
    } finally {
      await admin.disconnect();
    }
  });

  it('sends a message that cannot be decoded to <topic>.dlq with its origin, counts it, and goes on', async () => {
    const topic = await h.topic('poison', 1);
    const publisher = await h.publisher();
    const dlqCount = async () =>
      (await register.getSingleMetric('kafka_dlq_messages_total')?.get())?.values.find(
        (v) => v.labels.topic === topic.name,
      )?.value ?? 0;
    await publisher.publish(topic, [tag('k', 1)]);
    await h.publishRaw(topic.name, 'k', Buffer.from('{"not":"avro"}'));
    await publisher.publish(topic, [tag('k', 2)]);

    const rec = await record<UserTag>(h.consumer(), { groupId: uniqueName('poison'), topic, fromBeginning: true });
    await rec.until((m) => m.length >= 2);
    await rec.handle.stop();
    expect(rec.messages.map(priceOf)).toEqual([1, 2]);

    const [letter] = await h.deadLetters(topic.name, 1);
    expect(letter.value?.toString()).toBe('{"not":"avro"}');
    expect(letter.key?.toString()).toBe('k');
    expect(letter.headers).toMatchObject({
      [DLQ_HEADERS.topic]: topic.name,
      [DLQ_HEADERS.partition]: '0',
      [DLQ_HEADERS.offset]: '1',
      [DLQ_HEADERS.error]: expect.stringContaining('not Avro single-object encoding'),
    });
    expect(await dlqCount()).toBe(1);
  });

  it("sends a message that decodes but breaks the topic's rules to <topic>.dlq, and goes on", async () => {
    const topic = await h.topic('rules', 1);
    const publisher = await h.publisher();
    // The publisher does not check the rules (another producer might not either); the consumer does.
    const tooLong = { ...tag('k', 2), cookie: 'k'.repeat(300) };
    await publisher.publish(topic, [tag('k', 1), tooLong, tag('k', 3)]);

    const rec = await record<UserTag>(h.consumer(), { groupId: uniqueName('rules'), topic, fromBeginning: true });
    await rec.until((m) => m.length >= 2);
    await rec.handle.stop();
    expect(rec.messages.map(priceOf)).toEqual([1, 3]);

    const [letter] = await h.deadLetters(topic.name, 1);
    expect(letter.headers).toMatchObject({
      [DLQ_HEADERS.offset]: '1',
      [DLQ_HEADERS.error]: expect.stringContaining('cookie must be 1 to 256 characters long, got 300'),
    });
  });

  it('hands markers over beside the messages, in order after what their key had before, and readers skip them', async () => {
    const topic = await h.topic('markers', 3);
    const publisher = await h.publisher();
    await publisher.publish(topic, [tag('a', 1), tag('b', 1)]);
    await publisher.publishMarkers(topic, [
      { key: 'a', headers: { [MARKER_HEADER]: 'watermark', 'x-watermark': '100' } },
      { key: 'b', headers: { [MARKER_HEADER]: 'watermark', 'x-watermark': '200' } },
    ]);
    await publisher.publish(topic, [tag('a', 2)]);
    // A marker only: the consumer still hands it over (a batch may hold no message).
    await publisher.publishMarkers(topic, [
      { key: 'a', headers: { [MARKER_HEADER]: 'watermark', 'x-watermark': '300' } },
    ]);

    const markers: ConsumedMarker[] = [];
    const rec = await record<UserTag>(h.consumer(), {
      groupId: uniqueName('markers'),
      topic,
      fromBeginning: true,
      onBatch: (batch) => {
        markers.push(...(batch.markers ?? []));
        return Promise.resolve();
      },
    });
    await rec.until((m) => m.length >= 3 && markers.length >= 3, 'messages and markers');
    await rec.handle.stop();
    expect(rec.messages.map((m) => `${m.key}${priceOf(m)}`).sort()).toEqual(['a1', 'a2', 'b1']);
    expect(markers.map((m) => [m.key, m.headers['x-watermark'], m.headers[MARKER_HEADER]])).toEqual(
      expect.arrayContaining([
        ['a', '100', 'watermark'],
        ['b', '200', 'watermark'],
        ['a', '300', 'watermark'],
      ]),
    );
    // Per key, offsets put each marker after the messages published before it and before the later ones.
    const offsetsOf = (key: string) => [
      ...rec.messages.filter((m) => m.key === key).map((m) => [Number(m.offset), `m${priceOf(m)}`] as const),
      ...markers.filter((m) => m.key === key).map((m) => [Number(m.offset), `w${m.headers['x-watermark']}`] as const),
    ];
    const order = (key: string) =>
      offsetsOf(key)
        .sort((x, y) => x[0] - y[0])
        .map(([, what]) => what);
    expect(order('a')).toEqual(['m1', 'w100', 'm2', 'w300']);
    expect(order('b')).toEqual(['m1', 'w200']);
    expect(await h.reader().readToEnd(topic, { timeoutMs: 30_000 })).toHaveLength(3);
  });

  it('carries the W3C trace context of the publisher to the consumer', async () => {
    const topic = await h.topic('trace', 1);
    const publisher = await h.publisher();
    const spanContext = {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
    };
    await context.with(trace.setSpanContext(ROOT_CONTEXT, spanContext), () => publisher.publish(topic, [tag('k', 1)]));

    const rec = await record<UserTag>(h.consumer(), { groupId: uniqueName('trace'), topic, fromBeginning: true });
    await rec.until((m) => m.length >= 1);
    await rec.handle.stop();
    const [message] = rec.messages;
    expect(message.headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(withTraceContext(message.headers, () => trace.getSpanContext(context.active())?.traceId)).toBe(
      spanContext.traceId,
    );
  });
});

describe('Kafka publisher when Kafka cannot be reached', () => {
  const config = (brokers: string[], timeoutMs: number): MessagingConfig => ({
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: brokers,
    KAFKA_CLIENT_ID: undefined,
    KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
    KAFKA_REQUEST_TIMEOUT_MS: 30_000,
    KAFKA_SESSION_TIMEOUT_MS: 10_000,
    KAFKA_TOPIC_PARTITIONS: 1,
    KAFKA_REPLICATION_FACTOR: 1,
    SCHEMA_REGISTRY_URL: undefined,
    TOPIC_USER_TAGS: 'user-tags',
    TOPIC_DERIBIT_TRADES: 'unused',
    TOPIC_TRADE_STATS: 'unused',
    OTEL_EXPORTER_ENABLED: false,
    KAFKA_PRODUCE_TIMEOUT_MS: timeoutMs,
  });
  const publisherFor = (brokers: string[], timeoutMs: number) => {
    const options = new KafkaOptionsFactory(config(brokers, timeoutMs), 'unreachable-test');
    return KafkaMessagePublisher.fromOptions(options, serde, { lingerMs: 1, batchMaxMessages: 100 });
  };
  const topic = { name: 'user-tags', schemaName: 'analytics.UserTag', key: (t: UserTag) => t.cookie };

  it('refuses at once (unavailable) when nothing listens on the broker address', async () => {
    const publisher = publisherFor(['127.0.0.1:1'], 500);
    await expect(publisher.connect()).rejects.toThrow();
    const started = Date.now();
    const error = await publisher.publish(topic, [tag('k', 1)]).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(100);
    expect(error).toBeInstanceOf(PublishError);
    expect((error as PublishError).reason).toBe('unavailable');
    expect(publisher.isReady()).toBe(false);
    await publisher.close();
  });

  it('honours the timeout when the broker accepts connections but never answers', async () => {
    const silent: Socket[] = [];
    const server: Server = createServer((socket) => silent.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const publisher = publisherFor([`127.0.0.1:${port}`], 400);
      const started = Date.now();
      const error = await publisher.publish(topic, [tag('k', 1)], { timeoutMs: 400 }).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toBeInstanceOf(PublishError);
      expect(['timeout', 'unavailable']).toContain((error as PublishError).reason);
      expect(elapsed).toBeGreaterThanOrEqual(350);
      expect(elapsed).toBeLessThan(1_500);
      await publisher.close(100);
    } finally {
      for (const s of silent) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});
