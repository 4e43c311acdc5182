import { AggregateFlush, CubeDelta, UserTag, minuteBucketOf, userTagEventTime } from '@lib/domain';
import { CubeCells, sumPriceOf } from './cube-cells';

interface PartitionState {
  /** Offset the store holds for this partition (null: none yet); what the next flush continues. */
  storedOffset: string | null;
  /**
   * Next offset to accept; messages below it were already counted (here or in the store). A number:
   * Kafka's offsets are int64, but a partition would need 2^53 records to leave the exact range, and a
   * bigint per message was two allocations per tag ({@link offsetOf} checks the range).
   */
  nextOffset: number;
  cells: CubeCells;
  tags: number;
  /** Offsets moved since the last take(). */
  dirty: boolean;
}

interface Taken {
  /** The live state the deltas were taken from; a reassigned partition has a new one. */
  readonly live: PartitionState;
  readonly storedOffset: string | null;
  readonly cells: CubeCells;
  readonly tags: number;
}

/** What one flush takes away; handed back with {@link MinuteCubeAccumulator.restore} if it fails. */
export interface FlushSnapshot {
  readonly flush: AggregateFlush;
  readonly taken: ReadonlyMap<number, Taken>;
}

export type AddResult = 'added' | 'duplicate' | 'unowned';

/**
 * In-memory deltas of the minute cube between flushes, per partition, with the offsets they cover.
 * Pure bookkeeping: the aggregator feeds it consumed messages and writes what it takes.
 *
 * Per partition, a message is counted once: offsets below `nextOffset` are ignored, so a
 * redelivery after a seek or a rebalance cannot double-count before the store's fencing would.
 */
export class MinuteCubeAccumulator {
  private readonly partitions = new Map<number, PartitionState>();
  private newestEventMs: number | undefined;

  constructor(
    readonly groupId: string,
    readonly topic: string,
  ) {}

  /** Takes ownership of a partition resuming after `storedOffset` (null: from the log's start). */
  assign(partition: number, storedOffset: string | null): void {
    this.partitions.set(partition, {
      storedOffset,
      nextOffset: storedOffset === null ? 0 : offsetOf(storedOffset),
      cells: new CubeCells(),
      tags: 0,
      dirty: false,
    });
  }

  /** Forgets a partition and its unflushed deltas (its new owner recounts them from the store's offset). */
  revoke(partition: number): void {
    this.partitions.delete(partition);
  }

  owns(partition: number): boolean {
    return this.partitions.has(partition);
  }

  add(partition: number, offset: string, tag: UserTag): AddResult {
    const state = this.partitions.get(partition);
    if (!state) return 'unowned';
    const at = offsetOf(offset);
    if (at < state.nextOffset) return 'duplicate';
    const eventMs = userTagEventTime(tag);
    const info = tag.product_info;
    state.cells.addTag(minuteBucketOf(eventMs), tag.action, tag.origin, info.brand_id, info.category_id, info.price);
    state.tags += 1;
    state.nextOffset = at + 1;
    state.dirty = true;
    if (this.newestEventMs === undefined || eventMs > this.newestEventMs) this.newestEventMs = eventMs;
    return 'added';
  }

  /**
   * Skips a message that cannot be counted (it was reported elsewhere) so the offsets still move
   * past it and the flush stores them.
   */
  skip(partition: number, offset: string): void {
    const state = this.partitions.get(partition);
    if (state && offsetOf(offset) >= state.nextOffset) {
      state.nextOffset = offsetOf(offset) + 1;
      state.dirty = true;
    }
  }

  /** Tags waiting for a flush, over all partitions. */
  pendingTags(): number {
    let n = 0;
    for (const s of this.partitions.values()) n += s.tags;
    return n;
  }

  pendingCells(): number {
    let n = 0;
    for (const s of this.partitions.values()) n += s.cells.size;
    return n;
  }

  newestEventTime(): number | undefined {
    return this.newestEventMs;
  }

  /**
   * Takes every partition that moved since its stored offset, leaving them empty and continuing
   * from the snapshot's offsets. Undefined when there is nothing to write.
   */
  take(): FlushSnapshot | undefined {
    const taken = new Map<number, Taken>();
    const partitions: AggregateFlush['partitions'][number][] = [];
    for (const [partition, state] of this.partitions) {
      if (!state.dirty) continue;
      const nextOffset = String(state.nextOffset);
      taken.set(partition, { live: state, storedOffset: state.storedOffset, cells: state.cells, tags: state.tags });
      const deltas: CubeDelta[] = [];
      for (const c of state.cells.values()) deltas.push({ key: c.key, count: c.count, sumPrice: sumPriceOf(c) });
      partitions.push({ partition, expectedOffset: state.storedOffset, nextOffset, deltas });
      state.cells = new CubeCells();
      state.tags = 0;
      state.storedOffset = nextOffset;
      state.dirty = false;
    }
    if (partitions.length === 0) return undefined;
    return { flush: { groupId: this.groupId, topic: this.topic, partitions }, taken };
  }

  /**
   * The flush failed and stored nothing: its deltas go back to be written with the next one.
   * A partition revoked or reassigned meanwhile is left alone: its owner recounts from the store.
   */
  restore(snapshot: FlushSnapshot): void {
    for (const [partition, before] of snapshot.taken) {
      const state = this.partitions.get(partition);
      if (state !== before.live) continue;
      state.storedOffset = before.storedOffset;
      state.dirty = true;
      for (const cell of before.cells.values()) state.cells.addCell(cell.key, cell.count, sumPriceOf(cell));
      state.tags += before.tags;
    }
  }

  /**
   * The store refused these partitions of a flush (their stored offset moved on): drop them. Returns the
   * partitions dropped; one reassigned since the snapshot keeps its new state and is not among them.
   */
  fence(snapshot: FlushSnapshot, partitions: readonly number[]): number[] {
    const dropped: number[] = [];
    for (const p of partitions) {
      if (this.partitions.get(p) !== snapshot.taken.get(p)?.live) continue;
      this.partitions.delete(p);
      dropped.push(p);
    }
    return dropped;
  }
}

/** A Kafka offset as a number; throws past 2^53 (never reached: 9 × 10^15 records in one partition). */
function offsetOf(offset: string): number {
  const n = Number(offset);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`offset ${offset} is not a safe non-negative integer`);
  return n;
}
