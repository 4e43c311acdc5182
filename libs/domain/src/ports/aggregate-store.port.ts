import { Action } from '../user-tags/user-tag';
import { CubeFilters, CubeKey } from '../user-tags/cube-key';
import { TimeRange } from '../time/time-range';

/** What a set of tags adds to one cube cell. */
export interface CubeDelta {
  readonly key: CubeKey;
  readonly count: number;
  /** Sum of prices; bigint because sums of int32 prices outgrow 2^53 over enough tags. */
  readonly sumPrice: bigint;
}

/** The deltas read from one partition between two offsets. */
export interface PartitionDelta {
  readonly partition: number;
  /** The stored offset this delta continues from; null when the partition has none stored yet. */
  readonly expectedOffset: string | null;
  /** The offset to store: next message to read after these deltas. */
  readonly nextOffset: string;
  readonly deltas: readonly CubeDelta[];
}

export interface AggregateFlush {
  /** Consumer group and topic the offsets belong to. */
  readonly groupId: string;
  readonly topic: string;
  readonly partitions: readonly PartitionDelta[];
}

export interface FlushResult {
  /** Partitions whose deltas and offsets were stored. */
  readonly applied: readonly number[];
  /**
   * Partitions whose stored offset was not `expectedOffset` (another consumer owns them now):
   * nothing of theirs was stored; the caller drops their in-memory state.
   */
  readonly fenced: readonly number[];
  /** Rows the store wrote for the applied partitions (cells summed over them). */
  readonly rows: number;
}

export interface AggregateQuery {
  readonly range: TimeRange;
  readonly action: Action;
  readonly filters: CubeFilters;
}

/** One stored bucket of a query's slice; buckets without tags are absent. */
export interface AggregateRow {
  readonly bucketMs: number;
  readonly count: bigint;
  readonly sumPrice: bigint;
}

/**
 * The minute cube, written exactly once.
 *
 * - `flush` adds every applied partition's deltas and stores its `nextOffset` in ONE transaction.
 *   A partition is applied only if its stored offset equals `expectedOffset` (fencing: after a
 *   rebalance, a former owner's late flush cannot double-count). All or nothing per call.
 * - `storedOffsets` is where a consumer resumes: the offsets the last applied flushes stored.
 * - `query` reads exactly the cells of the range's buckets for the filter set, in time order:
 *   O(number of buckets), whatever the data volume.
 * - `deleteBucketsBefore` removes whole buckets older than a bucket start; returns rows deleted.
 */
export abstract class AggregateStore {
  abstract flush(batch: AggregateFlush): Promise<FlushResult>;
  abstract storedOffsets(groupId: string, topic: string): Promise<ReadonlyMap<number, string>>;
  abstract query(query: AggregateQuery): Promise<AggregateRow[]>;
  /**
   * Retention's watermark: the newest bucket start at or after which at least `minTags` tags are
   * counted (the unfiltered cube, both actions), or undefined when fewer are counted in all. With
   * `minTags` above 1, fewer than `minTags` outlying tags (a far-future time that got past the
   * gateway's bound) cannot move it; with 1 it is the newest bucket stored.
   */
  abstract watermarkBucket(minTags: number): Promise<number | undefined>;
  abstract deleteBucketsBefore(bucketMs: number): Promise<number>;
}
