import {
  AggregateFlush,
  AggregateQuery,
  AggregateRow,
  AggregateStore,
  cubeKeyOfQuery,
  FlushResult,
  minuteBucketOf,
  MS_PER_MINUTE,
} from '@lib/domain';
import { Pool, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { keyText } from '../key-text';
import { isEmbedded, sqlTimeoutsOf } from '../connection/data-source.factory';
import { bounded, hotQuery, inTransaction, poolOf, SqlTimeouts } from '../connection/sql-pool';
import { ACTION_CODE, dimensionValues, toColumns } from './cube-rows';

export interface PgAggregateStoreOptions {
  /** Rows per DELETE of retention: bounds each statement's locks and WAL burst. */
  readonly deleteChunk?: number;
}

/**
 * The flush's first statement, in its transaction: store the next offsets of the partitions whose
 * stored offset is the expected one, in partition order (two flushers lock shared rows in one order: no
 * deadlock). A partition with a row updates it only if the row holds the expected offset (the
 * conflict's WHERE, evaluated on the newest committed row, so a racing flusher that stored first fences
 * this one). A partition without a row inserts one only if it expected none; if another flusher
 * inserted it meanwhile, the conflict's WHERE compares its offset with NULL, never true, and the
 * partition is fenced. RETURNING lists exactly the partitions applied.
 */
const OFFSETS_SQL = `
  INSERT INTO consumer_offset AS o (group_id, topic, partition, next_offset)
  SELECT $1, $2, t.partition, t.next_offset
  FROM unnest($3::int[], $4::bigint[], $5::bigint[]) AS t(partition, next_offset, expected)
  WHERE t.expected IS NULL
     OR EXISTS (SELECT 1 FROM consumer_offset e WHERE e.group_id = $1 AND e.topic = $2 AND e.partition = t.partition)
  ORDER BY t.partition
  ON CONFLICT (group_id, topic, partition) DO UPDATE
    SET next_offset = excluded.next_offset, updated_at = now()
    WHERE o.next_offset = ($5::bigint[])[array_position($3::int[], excluded.partition)]
  RETURNING o.partition`;

/**
 * The second: the applied partitions' cells, summed per cell and sorted by the primary key in the
 * client (toColumns: ON CONFLICT touches each row once, and concurrent flushes lock shared cells in
 * one order). Origin, brand and category are ids of cube_dimension, looked up (and added) before.
 */
const CELLS_SQL = `
  INSERT INTO minute_cube AS c (bucket_ms, action, dims, origin, brand, category, count, sum_price)
  SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::smallint[], $4::int[], $5::int[], $6::int[],
                       $7::bigint[], $8::bigint[])
  ON CONFLICT (action, dims, origin, brand, category, bucket_ms) DO UPDATE
    SET count = c.count + excluded.count, sum_price = c.sum_price + excluded.sum_price`;

/** One slice, a range of buckets: one range scan of the primary key. */
const QUERY_SQL = `
  SELECT bucket_ms, count, sum_price FROM minute_cube
  WHERE action = $1 AND dims = $2 AND origin = $3 AND brand = $4 AND category = $5
    AND bucket_ms >= $6 AND bucket_ms < $7
  ORDER BY bucket_ms`;

/**
 * Ids of dictionary values, the missing ones added, in one statement: RETURNING gives the added ones,
 * the join the ones already there. A value another writer added after this statement's snapshot is
 * in neither (ON CONFLICT waited for it, then did nothing): the caller asks again. Values go in
 * order, so concurrent writers take the unique index's locks in one order.
 */
const DIMENSION_IDS_SQL = `
  WITH wanted AS (SELECT DISTINCT v FROM unnest($1::text[]) AS v),
  added AS (
    INSERT INTO cube_dimension (value) SELECT v FROM wanted ORDER BY v
    ON CONFLICT (value) DO NOTHING
    RETURNING id, value)
  SELECT id, value FROM added
  UNION ALL
  SELECT d.id, d.value FROM cube_dimension d JOIN wanted w ON d.value = w.v`;

/** Ids of dictionary values, for a query: a read never writes. */
const DIMENSION_LOOKUP_SQL = 'SELECT id, value FROM cube_dimension WHERE value = ANY($1::text[])';

/** Dictionary ids a process keeps; past this the cache starts again (hostile streams of new values). */
const MAX_CACHED_IDS = 1_000_000;

/** By minute number, the expression of minute_cube_minute_idx (see the migration for why). */
const DELETE_SQL = `
  DELETE FROM minute_cube WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM minute_cube WHERE bucket_ms / 60000 < $1 LIMIT $2))`;

/**
 * The newest bucket with at least $1 tags at or after it: the unfiltered cells (dims 0, one per bucket
 * and action, two primary-key range scans), summed per bucket, then from the newest back.
 */
export const WATERMARK_SQL = `
  SELECT bucket_ms AS watermark FROM (
    SELECT bucket_ms, sum(sum(count)) OVER (ORDER BY bucket_ms DESC) AS tags
    FROM minute_cube WHERE dims = 0 AND action IN (0, 1) GROUP BY bucket_ms
  ) newest_first
  WHERE tags >= $1 ORDER BY bucket_ms DESC LIMIT 1`;

/**
 * AggregateStore on PostgreSQL: tables minute_cube and consumer_offset, see their migrations.
 *
 * `flush` is ONE transaction of two statements: store the next offsets of the partitions whose stored
 * offset is `expectedOffset` (null: no row; OFFSETS_SQL), then add those partitions' deltas, summed per
 * cell and sorted in the client, in one `unnest` upsert (CELLS_SQL). A failure rolls back everything.
 */
export class PgAggregateStore extends AggregateStore {
  private readonly pool: Pool;
  private readonly deleteChunk: number;
  private readonly sliceQuery: (values: unknown[]) => QueryConfig;
  private readonly timeouts: SqlTimeouts;
  /** cube_dimension ids by client value (the dictionary holds keyText of it); ids never change. */
  private readonly ids = new Map<string, number>();

  constructor(dataSource: DataSource, options: PgAggregateStoreOptions = {}) {
    super();
    this.pool = poolOf(dataSource);
    this.timeouts = sqlTimeoutsOf(dataSource);
    this.sliceQuery = hotQuery('cube_slice', QUERY_SQL, !isEmbedded(dataSource), this.timeouts.readMs);
    this.deleteChunk = options.deleteChunk ?? 50_000;
  }

  async flush(batch: AggregateFlush): Promise<FlushResult> {
    const partitions = [...batch.partitions].sort((a, b) => a.partition - b.partition);
    if (partitions.length === 0) return { applied: [], fenced: [], rows: 0 };
    for (let i = 1; i < partitions.length; i++) {
      if (partitions[i].partition === partitions[i - 1].partition) {
        throw new Error(`flush lists partition ${partitions[i].partition} twice`);
      }
    }
    const { writeMs } = this.timeouts;
    // Outside the flush's transaction: a dictionary entry is harmless if the flush then fails.
    await this.addDimensions(dimensionValues(partitions));
    const idOf = (value: string): number => {
      const id = this.ids.get(value);
      if (id === undefined) throw new Error(`no cube_dimension id for ${JSON.stringify(value)}`);
      return id;
    };
    // Summed and sorted before the transaction opens (it holds the offsets' row locks meanwhile),
    // for every partition: all of them are applied unless another consumer took one.
    const all = toColumns(partitions, idOf);
    const { applied, rows } = await inTransaction(
      this.pool,
      async (client) => {
        const { rows } = await client.query<{ partition: number }>(
          bounded(
            OFFSETS_SQL,
            [
              batch.groupId,
              batch.topic,
              partitions.map((p) => p.partition),
              partitions.map((p) => p.nextOffset),
              partitions.map((p) => p.expectedOffset),
            ],
            writeMs,
          ),
        );
        const ids = new Set(rows.map((r) => r.partition));
        const c =
          ids.size === partitions.length
            ? all
            : toColumns(
                partitions.filter((p) => ids.has(p.partition)),
                idOf,
              );
        if (c.rows > 0) {
          await client.query(
            bounded(
              CELLS_SQL,
              [c.bucketMs, c.action, c.dims, c.origin, c.brand, c.category, c.count, c.sumPrice],
              writeMs,
            ),
          );
        }
        return { applied: ids, rows: c.rows };
      },
      undefined,
      writeMs,
    );
    const ids = partitions.map((p) => p.partition);
    return { applied: ids.filter((id) => applied.has(id)), fenced: ids.filter((id) => !applied.has(id)), rows };
  }

  async storedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>> {
    const { rows } = await this.pool.query<{ partition: number; next_offset: string }>(
      bounded(
        'SELECT partition, next_offset FROM consumer_offset WHERE group_id = $1 AND topic = $2',
        [groupId, topic],
        this.timeouts.writeMs,
      ),
    );
    return new Map(rows.map((r) => [r.partition, r.next_offset]));
  }

  async query(query: AggregateQuery): Promise<AggregateRow[]> {
    const key = cubeKeyOfQuery(0, query.action, query.filters);
    const values = [key.origin, key.brandId, key.categoryId];
    const unknown = values.filter((v) => v !== '' && !this.ids.has(v));
    if (unknown.length > 0) {
      if (this.ids.size >= MAX_CACHED_IDS) this.ids.clear();
      await this.lookUp(unknown, false);
      // A value the dictionary does not hold was never counted: every bucket is zero.
      if (unknown.some((v) => !this.ids.has(v))) return [];
    }
    const [origin, brand, category] = values.map((v) => (v === '' ? 0 : (this.ids.get(v) as number)));
    const { rows } = await this.pool.query<{ bucket_ms: string; count: string; sum_price: string }>(
      this.sliceQuery([
        ACTION_CODE[key.action],
        key.dims,
        origin,
        brand,
        category,
        minuteBucketOf(query.range.fromMs),
        query.range.toMs,
      ]),
    );
    return rows.map((r) => ({ bucketMs: Number(r.bucket_ms), count: BigInt(r.count), sumPrice: BigInt(r.sum_price) }));
  }

  /** Makes sure every value has its id in the cache, adding the missing ones to the dictionary. */
  private async addDimensions(values: ReadonlySet<string>): Promise<void> {
    let missing = [...values].filter((v) => !this.ids.has(v));
    // Start the cache again before, never while, the ids of one flush are being gathered.
    if (this.ids.size + missing.length > MAX_CACHED_IDS) this.ids.clear();
    for (let round = 1; missing.length > 0; round++) {
      if (round > 5) throw new Error(`cube_dimension: ${missing.length} values still without an id`);
      await this.lookUp(missing, true);
      missing = missing.filter((v) => !this.ids.has(v));
    }
  }

  /**
   * Ids of the keyText of `values`, cached under the client values: adding the missing ones to the
   * dictionary (a flush) or only reading it (a query).
   */
  private async lookUp(values: readonly string[], adding: boolean): Promise<void> {
    const byText = new Map(values.map((v) => [keyText(v), v]));
    const params = [[...byText.keys()]];
    const { rows } = adding
      ? await this.pool.query<{ id: number; value: string }>(bounded(DIMENSION_IDS_SQL, params, this.timeouts.writeMs))
      : await this.pool.query<{ id: number; value: string }>(
          bounded(DIMENSION_LOOKUP_SQL, params, this.timeouts.readMs),
        );
    for (const r of rows) {
      const value = byText.get(r.value);
      if (value !== undefined) this.ids.set(value, r.id);
    }
  }

  async watermarkBucket(minTags: number): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ watermark: string }>(
      bounded(WATERMARK_SQL, [Math.max(1, Math.floor(minTags))], this.timeouts.writeMs),
    );
    return rows.length === 0 ? undefined : Number(rows[0].watermark);
  }

  /** Deletes in chunks, each its own statement (autocommit): a long backlog never holds one huge transaction. */
  async deleteBucketsBefore(bucketMs: number): Promise<number> {
    // Buckets are whole minutes: bucket_ms < bucketMs exactly when its minute < ceil(bucketMs / 1 min).
    const beforeMinute = Math.ceil(bucketMs / MS_PER_MINUTE);
    let total = 0;
    for (;;) {
      const { rowCount } = await this.pool.query(
        bounded(DELETE_SQL, [beforeMinute, this.deleteChunk], this.timeouts.writeMs),
      );
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < this.deleteChunk) return total;
    }
  }
}
