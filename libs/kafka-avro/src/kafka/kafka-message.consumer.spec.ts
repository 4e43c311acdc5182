import type { UserTag } from '@lib/domain';
import type { EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { DeadLetter, DeadLetterSink } from '../dead-letter/dead-letter';
import { ConsumedBatch, ConsumerOptions } from '../messaging';
import { defaultSchemaCatalog } from '../schemas/schema.catalog';
import { SingleObjectSerde } from '../serde/single-object.serde';
import { sampleUserTag } from '../testing/sample-values';
import { userTagsTopic } from '../topics';
import { KafkaMessageConsumer } from './kafka-message.consumer';
import { KafkaOptionsFactory } from './kafka-options.factory';

/**
 * The consumer's own logic (external offsets, seeking, chunking, commits, retries) against a fake
 * kafkajs consumer, so that each case is exact; the contract tests cover the real broker.
 */
const serde = new SingleObjectSerde(defaultSchemaCatalog());
const topic = userTagsTopic('t');

class FakeConsumer {
  readonly events = { GROUP_JOIN: 'join', CRASH: 'crash', STOP: 'stop', DISCONNECT: 'disconnect' };
  readonly listeners = new Map<string, (e: { payload: unknown }) => void>();
  readonly seeks: { partition: number; offset: string }[] = [];
  readonly commits: { partition: number; offset: string }[] = [];
  eachBatch: ((p: EachBatchPayload) => Promise<void>) | undefined;
  running = true;
  runs = 0;

  on(event: string, fn: (e: { payload: unknown }) => void) {
    this.listeners.set(event, fn);
  }
  async connect() {}
  async subscribe() {}
  async run(config: { eachBatch: (p: EachBatchPayload) => Promise<void> }) {
    this.eachBatch = config.eachBatch;
    this.runs += 1;
    this.running = true;
  }
  crash(restart: boolean) {
    this.running = false;
    this.listeners.get('crash')?.({ payload: { error: new Error('Failed to find group coordinator'), restart } });
  }
  async disconnect() {
    this.running = false;
  }
  seek(s: { partition: number; offset: string }) {
    this.seeks.push({ partition: s.partition, offset: s.offset });
  }
  async commitOffsets(offsets: { partition: number; offset: string }[]) {
    this.commits.push(...offsets.map((o) => ({ partition: o.partition, offset: o.offset })));
  }
  join(partitions: number[]) {
    this.listeners.get('join')?.({ payload: { memberAssignment: { t: partitions } } });
  }
}

class RecordingSink extends DeadLetterSink {
  readonly letters: DeadLetter[] = [];
  protected override async write(letter: DeadLetter): Promise<void> {
    this.letters.push(letter);
  }
}

const message = (offset: number, value = serde.encode('t', topic.schemaName, sampleUserTag(offset))): KafkaMessage =>
  ({
    offset: String(offset),
    key: Buffer.from('k'),
    value,
    headers: {},
    timestamp: '0',
    attributes: 0,
  }) as KafkaMessage;

/** Feeds one fetched batch; returns the offsets kafkajs was told are resolved. */
async function feed(
  fake: FakeConsumer,
  partition: number,
  offsets: number[],
  opts: { stale?: boolean; high?: number } = {},
) {
  const resolved: string[] = [];
  const messages = offsets.map((o) => message(o));
  await fake.eachBatch?.({
    batch: {
      topic: 't',
      partition,
      highWatermark: String(opts.high ?? offsets[offsets.length - 1] + 1),
      messages,
      lastOffset: () => messages[messages.length - 1].offset,
    },
    resolveOffset: (o: string) => resolved.push(o),
    heartbeat: async () => undefined,
    isRunning: () => fake.running,
    isStale: () => opts.stale ?? false,
  } as unknown as EachBatchPayload);
  return resolved;
}

async function start(
  opts: Partial<ConsumerOptions<UserTag>>,
  onBatch: (b: ConsumedBatch<UserTag>) => Promise<void> = async () => undefined,
) {
  const fake = new FakeConsumer();
  const sink = new RecordingSink();
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    fetchTopicOffsets: async () => [{ partition: 1, offset: '50', low: '5', high: '50' }],
  };
  const kafka = { consumer: () => fake, admin: () => admin } as unknown as Kafka;
  const options = new KafkaOptionsFactory({ KAFKA_BROKERS: ['x:1'] } as never, 'test');
  const consumer = new KafkaMessageConsumer(kafka, options, serde, sink, { retry: { firstDelayMs: 1, maxDelayMs: 5 } });
  const handle = await consumer.start<UserTag>({ groupId: 'g', topic, fromBeginning: true, onBatch, ...opts });
  return { fake, sink, handle };
}

describe('KafkaMessageConsumer', () => {
  it('starts a new consumer when kafkajs crashes without restarting, and resumes like after a rebalance', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const resumed: number[][] = [];
      const { fake, handle } = await start(
        {
          resumeFrom: async (partitions) => {
            resumed.push([...partitions]);
            return new Map(partitions.map((p) => [p, '7'] as const));
          },
        },
        async () => undefined,
      );
      fake.join([0]);
      expect(fake.runs).toBe(1);
      fake.crash(true); // kafkajs restarts this one itself
      await jest.advanceTimersByTimeAsync(60_000);
      expect(fake.runs).toBe(1);
      fake.crash(false); // kafkajs gives up: the consumer starts a new one after a backoff
      await jest.advanceTimersByTimeAsync(999);
      expect(fake.runs).toBe(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(fake.runs).toBe(2);
      expect(handle.isRunning()).toBe(false); // not a member until it joins again
      fake.join([0]);
      await jest.advanceTimersByTimeAsync(0);
      expect(handle.isRunning()).toBe(true);
      expect(resumed).toEqual([[0], [0]]);
      expect(fake.seeks.slice(-1)).toEqual([{ partition: 0, offset: '7' }]);
      // Stopped: a crash then starts nothing.
      await handle.stop();
      fake.crash(false);
      await jest.advanceTimersByTimeAsync(60_000);
      expect(fake.runs).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });

  it('commits each chunk after onBatch, in chunks of maxBatchMessages, and resolves what it handled', async () => {
    const batches: ConsumedBatch<UserTag>[] = [];
    const { fake } = await start({ maxBatchMessages: 2 }, async (b) => {
      batches.push(b);
    });
    fake.join([0]);
    const resolved = await feed(fake, 0, [3, 4, 5, 6, 7], { high: 10 });
    expect(batches.map((b) => b.messages.map((m) => m.offset))).toEqual([['3', '4'], ['5', '6'], ['7']]);
    expect(batches.map((b) => [b.nextOffset, b.lag])).toEqual([
      ['5', 5],
      ['7', 3],
      ['8', 2],
    ]);
    expect(fake.commits).toEqual([
      { partition: 0, offset: '5' },
      { partition: 0, offset: '7' },
      { partition: 0, offset: '8' },
    ]);
    expect(resolved).toEqual(['4', '6', '7']);
  });

  it('retries a failing onBatch until it succeeds, committing only then', async () => {
    let calls = 0;
    const { fake } = await start({}, async () => {
      if (++calls < 3) throw new Error('busy');
    });
    fake.join([0]);
    await feed(fake, 0, [0, 1]);
    expect(calls).toBe(3);
    expect(fake.commits).toEqual([{ partition: 0, offset: '2' }]);
  });

  it('gives up on a batch without committing when it stops meanwhile', async () => {
    const { fake, handle } = await start({}, async () => {
      await handle.stop();
      throw new Error('shutting down');
    });
    fake.join([0]);
    const resolved = await feed(fake, 0, [0, 1]);
    expect(fake.commits).toEqual([]);
    expect(resolved).toEqual([]);
  });

  it('dead-letters what does not decode and hands over the rest', async () => {
    const batches: ConsumedBatch<UserTag>[] = [];
    const { fake, sink } = await start({}, async (b) => {
      batches.push(b);
    });
    fake.join([0]);
    const messages = [message(0), message(1, Buffer.from('junk')), message(2)];
    await fake.eachBatch?.({
      batch: { topic: 't', partition: 0, highWatermark: '3', messages, lastOffset: () => '2' },
      resolveOffset: () => undefined,
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
    expect(batches[0].messages.map((m) => m.offset)).toEqual(['0', '2']);
    expect(batches[0].nextOffset).toBe('3');
    expect(sink.letters).toHaveLength(1);
    expect(sink.letters[0].headers['dlq.origin.offset']).toBe('1');
  });

  describe('with external offsets', () => {
    it('seeks every assigned partition where resumeFrom says, and per fromBeginning where it says nothing', async () => {
      const asked: number[][] = [];
      const { fake } = await start({
        resumeFrom: async (partitions) => {
          asked.push([...partitions]);
          return new Map([[0, '17']]);
        },
      });
      fake.join([0, 1]);
      await feed(fake, 0, [17]);
      expect(asked).toEqual([[0, 1]]);
      expect(fake.seeks).toEqual([
        { partition: 0, offset: '17' },
        { partition: 1, offset: '5' },
      ]);
    });

    it('holds batches until the resume offsets are known, drops what is below, never commits on its own', async () => {
      let answer: (m: Map<number, string>) => void = () => undefined;
      const seen: string[] = [];
      const { fake } = await start({ resumeFrom: () => new Promise((r) => (answer = r)) }, async (b) => {
        seen.push(...b.messages.map((m) => m.offset));
      });
      fake.join([0]);
      const fed = feed(fake, 0, [8, 9, 10, 11]);
      await new Promise((r) => setTimeout(r, 10));
      expect(seen).toEqual([]);
      answer(new Map([[0, '10']]));
      await fed;
      expect(seen).toEqual(['10', '11']);
      expect(fake.commits).toEqual([]);
    });

    it('seeks back once when the first batch starts above the resume offset, then accepts a genuine gap', async () => {
      const seen: string[] = [];
      const { fake } = await start({ resumeFrom: async () => new Map([[0, '10']]) }, async (b) => {
        seen.push(...b.messages.map((m) => m.offset));
      });
      fake.join([0]);
      await feed(fake, 0, [25, 26]);
      expect(seen).toEqual([]);
      expect(fake.seeks).toEqual([
        { partition: 0, offset: '10' },
        { partition: 0, offset: '10' },
      ]);
      // After the seek back the log really has nothing at 10 (a transaction marker): go on from 12.
      await feed(fake, 0, [12, 13]);
      expect(seen).toEqual(['12', '13']);
    });

    it('skips a batch made stale by a seek, and reports partitions a rebalance took away', async () => {
      const revoked: number[][] = [];
      const seen: string[] = [];
      const { fake } = await start(
        { resumeFrom: async (ps) => new Map(ps.map((p) => [p, '0'])), onRevoked: (ps) => revoked.push([...ps]) },
        async (b) => {
          seen.push(...b.messages.map((m) => m.offset));
        },
      );
      fake.join([0, 1, 2]);
      await feed(fake, 0, [0, 1], { stale: true });
      expect(seen).toEqual([]);
      fake.join([1]);
      expect(revoked).toEqual([[0, 2]]);
    });
  });
});
