/**
 * The aggregator's exactly-once flush logic, against an in-memory AggregateStore that follows the port's
 * contract (deltas and offsets in one step, fencing on the expected offset, all or nothing). The SQL
 * store is tested on a real PostgreSQL server (libs/persistence) and the whole path end to end.
 */
import { PipelineConfig } from '@lib/config';
import {
  AggregateFlush,
  AggregateQuery,
  AggregateRow,
  AggregateStore,
  FlushResult,
  minuteBucketOf,
  UserTag,
} from '@lib/domain';
import { ConsumedBatch, ConsumerHandle, TopicPartitionOffset, userTagsTopic } from '@lib/kafka-avro';
import { ReadinessRegistry } from '@lib/platform';
import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { MinuteCubeAggregator } from './minute-cube.aggregator';

Logger.overrideLogger(false);

const GROUP = 'aggregates';
const TOPIC = 'user-tags';

/** Totals per (bucket, action) of the cells without dimensions, and the stored offsets. */
class MemoryStore extends AggregateStore {
  readonly offsets = new Map<number, string>();
  readonly totals = new Map<string, { count: number; sum: bigint }>();
  failNext = 0;
  /** Flushes that are stored and then reported as failed (a COMMIT whose answer was lost). */
  ambiguousNext = 0;
  flushes = 0;

  async flush(batch: AggregateFlush): Promise<FlushResult> {
    this.flushes += 1;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('connection lost');
    }
    if (this.ambiguousNext > 0) {
      this.ambiguousNext -= 1;
      this.apply(batch);
      throw new Error('connection lost after COMMIT');
    }
    return this.apply(batch);
  }

  private apply(batch: AggregateFlush): FlushResult {
    const applied: number[] = [];
    const fenced: number[] = [];
    let rows = 0;
    for (const p of batch.partitions) {
      if ((this.offsets.get(p.partition) ?? null) !== p.expectedOffset) {
        fenced.push(p.partition);
        continue;
      }
      for (const d of p.deltas) {
        if (d.key.dims !== 0) continue;
        const key = `${d.key.bucketMs}|${d.key.action}`;
        const t = this.totals.get(key) ?? { count: 0, sum: 0n };
        this.totals.set(key, { count: t.count + d.count, sum: t.sum + d.sumPrice });
      }
      this.offsets.set(p.partition, p.nextOffset);
      applied.push(p.partition);
      rows += p.deltas.length; // every delta kept as it came: one row each
    }
    return { applied, fenced, rows };
  }

  async storedOffsets(): Promise<ReadonlyMap<number, string>> {
    return new Map(this.offsets);
  }

  async query(_q: AggregateQuery): Promise<AggregateRow[]> {
    return [];
  }

  async watermarkBucket(): Promise<number | undefined> {
    return undefined;
  }

  async deleteBucketsBefore(): Promise<number> {
    return 0;
  }
}

class RecordingHandle implements ConsumerHandle {
  readonly commits: TopicPartitionOffset[][] = [];
  readonly rewinds: [number, string][] = [];
  rewind(partition: number, offset: string): void {
    this.rewinds.push([partition, offset]);
  }
  async stop(): Promise<void> {}
  isRunning(): boolean {
    return true;
  }
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.commits.push([...offsets]);
  }
}

const T0 = Date.parse('2022-03-01T00:00:00Z');

function tag(i: number, time = new Date(T0 + i * 7_000).toISOString()): UserTag {
  return {
    time,
    cookie: `c${i % 5}`,
    country: 'PL',
    device: 'PC',
    action: i % 3 === 0 ? 'BUY' : 'VIEW',
    origin: 'US',
    product_info: { product_id: i, brand_id: 'b', category_id: 'k', price: 100 + i },
  };
}

function batch(partition: number, from: number, tags: UserTag[]): ConsumedBatch<UserTag> {
  return {
    topic: TOPIC,
    partition,
    nextOffset: String(from + tags.length),
    lag: 0,
    messages: tags.map((value, i) => ({
      topic: TOPIC,
      partition,
      offset: String(from + i),
      key: value.cookie,
      value,
      headers: {},
      timestamp: 0,
    })),
  };
}

/** What a correct cube holds for these tags: totals per (bucket, action). */
function truth(tags: UserTag[]): Map<string, { count: number; sum: bigint }> {
  const out = new Map<string, { count: number; sum: bigint }>();
  for (const t of tags) {
    const key = `${minuteBucketOf(Date.parse(t.time))}|${t.action}`;
    const v = out.get(key) ?? { count: 0, sum: 0n };
    out.set(key, { count: v.count + 1, sum: v.sum + BigInt(t.product_info.price) });
  }
  return out;
}

/** Every aggregator a test started: stopped afterwards, so no flush timer outlives its test. */
const started: MinuteCubeAggregator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((a) => a.stop()));
});

function setup(store = new MemoryStore()) {
  const config = {
    AGGREGATES_GROUP_ID: GROUP,
    TOPIC_USER_TAGS: TOPIC,
    AGG_FLUSH_INTERVAL_MS: 60_000,
  } as PipelineConfig;
  const readiness = new ReadinessRegistry();
  const scheduler = new SchedulerRegistry();
  const aggregator = new MinuteCubeAggregator(config, store, userTagsTopic(TOPIC), readiness, scheduler);
  const handle = new RecordingHandle();
  aggregator.start(handle);
  started.push(aggregator);
  const ready = async (): Promise<boolean> => {
    for (const [, check] of readiness.entries()) {
      try {
        await check();
      } catch {
        return false;
      }
    }
    return true;
  };
  return { store, aggregator, handle, ready, scheduler };
}

describe('MinuteCubeAggregator', () => {
  it('keeps a failed flush in memory and writes it once with the next one, offsets last', async () => {
    const { store, aggregator, handle, ready } = setup();
    await aggregator.resume([0, 1]);
    const tags = Array.from({ length: 40 }, (_, i) => tag(i));
    await aggregator.accumulate(batch(0, 0, tags.slice(0, 25)));
    await aggregator.accumulate(batch(1, 0, tags.slice(25)));

    store.failNext = 1;
    await aggregator.flush();
    expect(store.totals.size).toBe(0);
    expect(handle.commits).toEqual([]);
    expect(await ready()).toBe(false);

    // More arrives before the retry; then everything is written once, with both partitions' offsets.
    const more = Array.from({ length: 10 }, (_, i) => tag(100 + i));
    await aggregator.accumulate(batch(0, 25, more));
    await aggregator.flush();
    expect(store.totals).toEqual(truth([...tags, ...more]));
    expect(Object.fromEntries(store.offsets)).toEqual({ 0: '35', 1: '15' });
    expect(handle.commits).toEqual([
      [
        { topic: TOPIC, partition: 0, offset: '35' },
        { topic: TOPIC, partition: 1, offset: '15' },
      ],
    ]);
    expect(await ready()).toBe(true);

    // A batch delivered again after the flush (a consumer restart) is not counted twice.
    await aggregator.accumulate(batch(0, 25, more));
    await aggregator.flush();
    expect(store.totals).toEqual(truth([...tags, ...more]));
  });

  it('resumes from the stored offsets; a partition fenced by the store is dropped and read again from its stored offset', async () => {
    const store = new MemoryStore();
    store.offsets.set(0, '100');
    const { aggregator, handle } = setup(store);
    expect(await aggregator.resume([0, 1])).toEqual(new Map([[0, '100']]));
    const p0 = Array.from({ length: 5 }, (_, i) => tag(i));
    const p1 = Array.from({ length: 7 }, (_, i) => tag(10 + i));
    await aggregator.accumulate(batch(0, 98, p0)); // offsets 98, 99 were counted before: skipped
    await aggregator.accumulate(batch(1, 0, p1));

    // Meanwhile partition 0 moved on under another owner.
    store.offsets.set(0, '150');
    await aggregator.flush();
    expect(store.totals).toEqual(truth(p1));
    expect(store.offsets.get(0)).toBe('150');
    expect(handle.commits).toEqual([[{ topic: TOPIC, partition: 1, offset: '7' }]]);

    // The fenced partition's deltas are gone, not retried; it is read again from the store's offset.
    expect(handle.rewinds).toEqual([[0, '150']]);
    const flushes = store.flushes;
    await aggregator.flush();
    expect(store.flushes).toBe(flushes);
  });

  it('after a COMMIT that landed but reported failure, counts the partition again from the stored offset, once', async () => {
    const { store, aggregator, handle } = setup();
    await aggregator.resume([0]);
    const tags = Array.from({ length: 25 }, (_, i) => tag(i));
    await aggregator.accumulate(batch(0, 0, tags.slice(0, 10)));
    store.ambiguousNext = 1;
    await aggregator.flush(); // stored (offset 10), reported failed: the deltas go back to memory
    expect(store.offsets.get(0)).toBe('10');
    await aggregator.accumulate(batch(0, 10, tags.slice(10, 20)));
    await aggregator.flush(); // expects no offset, finds 10: fenced, dropped, rewound to 10
    expect(store.totals).toEqual(truth(tags.slice(0, 10)));
    expect(handle.rewinds).toEqual([[0, '10']]);

    // The batch that was in progress arrives after the rewind: skipped, and the rewind asked again.
    await aggregator.accumulate(batch(0, 20, tags.slice(20, 25)));
    expect(handle.rewinds).toEqual([
      [0, '10'],
      [0, '10'],
    ]);
    // Delivered again from the stored offset: counted from there, exactly once.
    await aggregator.accumulate(batch(0, 10, tags.slice(10, 25)));
    await aggregator.flush();
    expect(store.totals).toEqual(truth(tags));
    expect(store.offsets.get(0)).toBe('25');
  });

  it('skips a tag it cannot count, still moving the offset past it', async () => {
    const { store, aggregator } = setup();
    await aggregator.resume([0]);
    const good = [tag(1), tag(2)];
    await aggregator.accumulate(batch(0, 0, [good[0], tag(9, 'not a time'), good[1]]));
    await aggregator.flush();
    expect(store.totals).toEqual(truth(good));
    expect(store.offsets.get(0)).toBe('3');
  });

  it('a partition revoked before the flush writes nothing; stop() flushes what is pending and ends the timer', async () => {
    const { store, aggregator, scheduler } = setup();
    await aggregator.resume([0, 1]);
    await aggregator.accumulate(batch(0, 0, [tag(1)]));
    await aggregator.accumulate(batch(1, 0, [tag(2), tag(3)]));
    aggregator.revoke([0]);
    expect(scheduler.getIntervals()).toEqual(['aggregate-flush']);
    await aggregator.stop();
    expect(store.totals).toEqual(truth([tag(2), tag(3)]));
    expect([...store.offsets]).toEqual([[1, '2']]);
    expect(scheduler.getIntervals()).toEqual([]);
  });
});
