/**
 * Issue 15: the retention job on a real PostgreSQL with hostile event times. The cube is written through
 * the store's flush (the aggregator's path); the far-future tag stands for one that reached the topic
 * without the gateway's TIME_IN_FUTURE bound (another producer, or a clock far off).
 */
import type { PipelineConfig } from '@lib/config';
import { Action, AggregateStore, cubeKeysOfTag, minuteBucketOf, PartitionDelta } from '@lib/domain';
import { closeDataSource, createDataSource, PgAggregateStore } from '@lib/persistence';
import type { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../../../test/support/test-env';
import { RetentionJob } from './retention.job';

const AT_1215 = Date.parse('2022-03-22T12:15:00.000Z');
const YEAR_2099 = Date.parse('2099-01-01T00:00:00.000Z');
// Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
const YEAR_0001 = new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(1);
const WATERMARK_TAGS = 10;

describe('RetentionJob with hostile event times (PostgreSQL)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let store: AggregateStore;
  let offset = 0;

  const job = () =>
    new RetentionJob({ RETENTION_HOURS: 24, RETENTION_WATERMARK_TAGS: WATERMARK_TAGS } as PipelineConfig, store);

  /** Counts `n` tags of `action` at `timeMs` (price 10 each), as the aggregator would flush them. */
  async function count(n: number, action: Action, timeMs: number): Promise<void> {
    const bucketMs = minuteBucketOf(timeMs);
    const delta: PartitionDelta = {
      partition: 0,
      expectedOffset: offset === 0 ? null : String(offset),
      nextOffset: String(offset + n),
      deltas: cubeKeysOfTag(bucketMs, action, 'origin', 'brand', 'category').map((key) => ({
        key,
        count: n,
        sumPrice: BigInt(10 * n),
      })),
    };
    offset += n;
    expect((await store.flush({ groupId: 'g', topic: 't', partitions: [delta] })).applied).toEqual([0]);
  }

  const bucket = async (action: Action, timeMs: number) => {
    const fromMs = minuteBucketOf(timeMs);
    const rows = await store.query({ range: { fromMs, toMs: fromMs + 60_000 }, action, filters: {} });
    return rows.map((r) => `${r.count}/${r.sumPrice}`).join(',') || 'none';
  };

  beforeAll(async () => {
    db = await createTestDatabase('retention');
    dataSource = await createDataSource({ DATABASE_URL: db.url, DATABASE_POOL_SIZE: 2, DATA_DIR: '/nonexistent' });
    store = new PgAggregateStore(dataSource);
  });

  afterAll(async () => {
    if (dataSource) await closeDataSource(dataSource);
    await db?.drop();
  });

  it('one far-future tag does not move retention; a far-past tag is counted, then goes with its minute', async () => {
    expect(new Date(YEAR_0001).toISOString()).toBe('0001-01-01T00:00:00.000Z');
    await count(50, 'BUY', AT_1215);
    await count(1, 'VIEW', YEAR_2099);
    await count(1, 'BUY', YEAR_0001);
    expect(await bucket('BUY', YEAR_0001)).toBe('1/10');

    await job().run();

    // The case of the issue: 50 BUY at 12:15 still answer 50 / 500 after retention ran.
    expect(await bucket('BUY', AT_1215)).toBe('50/500');
    expect(await bucket('VIEW', YEAR_2099)).toBe('1/10');
    // The past tag's minute is far outside the window behind the watermark (12:15): deleted.
    expect(await bucket('BUY', YEAR_0001)).toBe('none');
    expect(await store.watermarkBucket(WATERMARK_TAGS)).toBe(AT_1215);
  });

  it('the watermark moves once RETENTION_WATERMARK_TAGS tags are at or after a newer minute', async () => {
    // Nine more in 2099: ten there now, which is the watermark's threshold, so retention follows them.
    await count(WATERMARK_TAGS - 1, 'VIEW', YEAR_2099);
    expect(await store.watermarkBucket(WATERMARK_TAGS)).toBe(minuteBucketOf(YEAR_2099));

    await job().run();

    expect(await bucket('BUY', AT_1215)).toBe('none');
    expect(await bucket('VIEW', YEAR_2099)).toBe(`${WATERMARK_TAGS}/${10 * WATERMARK_TAGS}`);
  });
});
