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
import { isEmbedded } from '../connection/data-source.factory';
import { hotQuery, inTransaction, poolOf } from '../connection/sql-pool';
import { toColumns } from './cube-rows';

export interface PgAggregateStoreOptions {
  /** Rows per DELETE of retention: bounds each statement's locks and WAL burst. */
  readonly deleteChunk?: number;
}

/** Locks the partitions' offset rows in partition order (no deadlock between two flushers). */
const LOCK_OFFSETS_SQL = `
  SELECT partition, next_offset FROM consumer_offset
  WHERE group_id = $1 AND topic = $2 AND partition = ANY($3::int[])
  ORDER BY partition
  FOR UPDATE`;

/**
 * Stores the next offsets of the partitions whose stored offset matched. The rows that existed are
 * locked by LOCK_OFFSETS_SQL and match, so they update. A partition that had no row inserts one,
 * unless another flusher inserted it meanwhile: then the conflict's WHERE compares the stored
 * offset with NULL (the expected one), which is never true, and the partition is fenced.
 * RETURNING lists exactly the partitions applied.
 */
const STORE_OFFSETS_SQL = `
  INSERT INTO consumer_offset AS o (group_id, topic, partition, next_offset)
  SELECT $1, $2, t.partition, t.next_offset
  FROM unnest($3::int[], $4::bigint[]) AS t(partition, next_offset)
  ORDER BY t.partition
  ON CONFLICT (group_id, topic, partition) DO UPDATE
    SET next_offset = excluded.next_offset, updated_at = now()
    WHERE o.next_offset = ($5::bigint[])[array_position($3::int[], excluded.partition)]
  RETURNING o.partition`;

/** One statement per flush: sums the deltas per cell, in primary-key order, then adds them (cube-rows.ts). */
const UPSERT_SQL = `
  INSERT INTO minute_cube AS c (bucket_ms, action, dims, origin, brand_id, category_id, count, sum_price)
  SELECT bucket_ms, action, dims, origin, brand_id, category_id, sum(count)::bigint, sum(sum_price)::bigint
  FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
    AS d(bucket_ms, action, dims, origin, brand_id, category_id, count, sum_price)
  GROUP BY action, dims, origin, brand_id, category_id, bucket_ms
  ORDER BY action, dims, origin, brand_id, category_id, bucket_ms
  ON CONFLICT (action, dims, origin, brand_id, category_id, bucket_ms) DO UPDATE
    SET count = c.count + excluded.count, sum_price = c.sum_price + excluded.sum_price`;

/** Room to group a large flush's deltas in memory rather than in temporary files. */
const FLUSH_WORK_MEM = '128MB';

/** One slice, a range of buckets: one range scan of the primary key. */
const QUERY_SQL = `
  SELECT bucket_ms, count, sum_price FROM minute_cube
  WHERE action = $1 AND dims = $2 AND origin = $3 AND brand_id = $4 AND category_id = $5
    AND bucket_ms >= $6 AND bucket_ms < $7
  ORDER BY bucket_ms`;

/** By minute number, the expression of minute_cube_minute_idx (see the migration for why). */
const DELETE_SQL = `
  DELETE FROM minute_cube WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM minute_cube WHERE bucket_ms / 60000 < $1 LIMIT $2))`;

const NEWEST_SQL = 'SELECT max(bucket_ms / 60000) * 60000 AS newest FROM minute_cube';

/**
 * AggregateStore on PostgreSQL: tables minute_cube and consumer_offset, see their migrations.
 *
 * `flush` is ONE transaction: lock the partitions' offset rows, keep the partitions whose stored
 * offset is `expectedOffset` (null: no row), store their next offsets, then add their deltas in
 * one `unnest` upsert that sums them per cell in key order. A failure rolls back everything.
 */
export class PgAggregateStore extends AggregateStore {
  private readonly pool: Pool;
  private readonly deleteChunk: number;
  private readonly sliceQuery: (values: unknown[]) => QueryConfig;

  constructor(dataSource: DataSource, options: PgAggregateStoreOptions = {}) {
    super();
    this.pool = poolOf(dataSource);
    this.sliceQuery = hotQuery('cube_slice', QUERY_SQL, !isEmbedded(dataSource));
    this.deleteChunk = options.deleteChunk ?? 50_000;
  }

  async flush(batch: AggregateFlush): Promise<FlushResult> {
    const partitions = [...batch.partitions].sort((a, b) => a.partition - b.partition);
    if (partitions.length === 0) return { applied: [], fenced: [] };
    for (let i = 1; i < partitions.length; i++) {
      if (partitions[i].partition === partitions[i - 1].partition) {
        throw new Error(`flush lists partition ${partitions[i].partition} twice`);
      }
    }
    return inTransaction(this.pool, async (client) => {
      const ids = partitions.map((p) => p.partition);
      const locked = await client.query<{ partition: number; next_offset: string }>(LOCK_OFFSETS_SQL, [
        batch.groupId,
        batch.topic,
        ids,
      ]);
      const stored = new Map(locked.rows.map((r) => [r.partition, r.next_offset]));
      const candidates = partitions.filter((p) => sameOffset(stored.get(p.partition) ?? null, p.expectedOffset));
      let applied = new Set<number>();
      if (candidates.length > 0) {
        const result = await client.query<{ partition: number }>(STORE_OFFSETS_SQL, [
          batch.groupId,
          batch.topic,
          candidates.map((p) => p.partition),
          candidates.map((p) => p.nextOffset),
          candidates.map((p) => p.expectedOffset),
        ]);
        applied = new Set(result.rows.map((r) => r.partition));
      }
      const deltas = partitions.filter((p) => applied.has(p.partition)).map((p) => p.deltas);
      if (deltas.some((d) => d.length > 0)) {
        const c = toColumns(deltas);
        await client.query(`SET LOCAL work_mem = '${FLUSH_WORK_MEM}'`);
        await client.query(UPSERT_SQL, [
          c.bucketMs,
          c.action,
          c.dims,
          c.origin,
          c.brandId,
          c.categoryId,
          c.count,
          c.sumPrice,
        ]);
      }
      return {
        applied: ids.filter((id) => applied.has(id)),
        fenced: ids.filter((id) => !applied.has(id)),
      };
    });
  }

  async storedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>> {
    const { rows } = await this.pool.query<{ partition: number; next_offset: string }>(
      'SELECT partition, next_offset FROM consumer_offset WHERE group_id = $1 AND topic = $2',
      [groupId, topic],
    );
    return new Map(rows.map((r) => [r.partition, r.next_offset]));
  }

  async query(query: AggregateQuery): Promise<AggregateRow[]> {
    const key = cubeKeyOfQuery(0, query.action, query.filters);
    const { rows } = await this.pool.query<{ bucket_ms: string; count: string; sum_price: string }>(
      this.sliceQuery([
        key.action,
        key.dims,
        keyText(key.origin),
        keyText(key.brandId),
        keyText(key.categoryId),
        minuteBucketOf(query.range.fromMs),
        query.range.toMs,
      ]),
    );
    return rows.map((r) => ({ bucketMs: Number(r.bucket_ms), count: BigInt(r.count), sumPrice: BigInt(r.sum_price) }));
  }

  async newestBucket(): Promise<number | undefined> {
    const { rows } = await this.pool.query<{ newest: string | null }>(NEWEST_SQL);
    const newest = rows[0]?.newest;
    return newest === null || newest === undefined ? undefined : Number(newest);
  }

  /** Deletes in chunks, each its own statement (autocommit): a long backlog never holds one huge transaction. */
  async deleteBucketsBefore(bucketMs: number): Promise<number> {
    // Buckets are whole minutes: bucket_ms < bucketMs exactly when its minute < ceil(bucketMs / 1 min).
    const beforeMinute = Math.ceil(bucketMs / MS_PER_MINUTE);
    let total = 0;
    for (;;) {
      const { rowCount } = await this.pool.query(DELETE_SQL, [beforeMinute, this.deleteChunk]);
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < this.deleteChunk) return total;
    }
  }
}

/** Offsets compare as integers: '007' and '7' are the same offset; null only equals null. */
function sameOffset(stored: string | null, expected: string | null): boolean {
  if (stored === null || expected === null) return stored === expected;
  return BigInt(stored) === BigInt(expected);
}
