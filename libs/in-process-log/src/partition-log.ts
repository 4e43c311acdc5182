import type { RawMessage } from '@lib/kafka-avro/consuming/raw-message';

/**
 * One partition's records in memory, in offset order.
 *
 * - `base`: records below it were truncated (retention); `end`: the offset the next record gets.
 * - `visibleEnd`: readers see records below it only. A durable broker appends a record (assigning its
 *   offset) before it is on disk and moves `visibleEnd` once it is, so no consumer ever acts on a
 *   record a crash could take back; without a journal it moves with every append.
 * - Offsets may have gaps once a compacted topic dropped superseded records.
 */
export class PartitionLog {
  private records: RawMessage[] = [];
  private offsets: number[] = [];
  /** Index of the first record held (dropping from the front is O(1); the arrays shrink now and then). */
  private head = 0;
  base = 0;
  end = 0;
  visibleEnd = 0;
  /** Records held right after the last compaction: the next one runs when the log has grown well past it. */
  private compactedSize = 0;

  get size(): number {
    return this.records.length - this.head;
  }

  /** Appends with the next offset, and returns it. */
  append(key: string, value: Buffer | null, headers: Readonly<Record<string, string>>, timestamp: number): number {
    const offset = this.end;
    this.push(offset, key, value, headers, timestamp);
    return offset;
  }

  /** Appends a record read back from disk with its own offset (at or after `end`). */
  restore(
    offset: number,
    key: string,
    value: Buffer | null,
    headers: Readonly<Record<string, string>>,
    timestamp: number,
  ): void {
    if (offset < this.end) throw new Error(`offset ${offset} restored out of order (end ${this.end})`);
    this.push(offset, key, value, headers, timestamp);
  }

  private push(
    offset: number,
    key: string,
    value: Buffer | null,
    headers: Readonly<Record<string, string>>,
    timestamp: number,
  ): void {
    this.records.push({ offset: String(offset), key, value, headers, timestamp });
    this.offsets.push(offset);
    this.end = offset + 1;
  }

  /** Starts a log being restored at `offset` (its first segment's base), before any record. */
  startAt(offset: number): void {
    if (this.size > 0 || this.end > 0) throw new Error('startAt on a log that already has records');
    this.base = offset;
    this.end = offset;
    this.visibleEnd = offset;
  }

  /** Ends a restore: the next offset is at least `offset` (its last segment's base), and all of it is visible. */
  finishRestore(offset: number): void {
    this.end = Math.max(this.end, offset);
    this.visibleEnd = this.end;
  }

  makeVisible(upTo: number): void {
    this.visibleEnd = Math.min(Math.max(this.visibleEnd, upTo), this.end);
  }

  /** Up to `max` visible records from offset `from` on (the next ones present, where compaction left gaps). */
  read(from: number, max: number): RawMessage[] {
    const start = this.indexOf(from);
    const stop = Math.min(this.indexOf(this.visibleEnd), start + max);
    return this.records.slice(start, Math.max(start, stop));
  }

  /** Visible records below `below`, oldest first. */
  visibleBelow(below: number): RawMessage[] {
    return this.records.slice(this.head, this.indexOf(Math.min(below, this.visibleEnd)));
  }

  /** Drops every record below `offset`; never a record readers cannot see yet. */
  truncateBefore(offset: number): number {
    const target = Math.min(offset, this.visibleEnd);
    if (target <= this.base) return 0;
    const index = this.indexOf(target);
    const dropped = index - this.head;
    this.head = index;
    this.base = target;
    if (this.head > 1_024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.offsets = this.offsets.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  /** Drops the oldest `count` records (visible ones only), as a cap on memory. */
  dropOldest(count: number): number {
    const index = this.head + count;
    if (count <= 0) return 0;
    return this.truncateBefore(index < this.records.length ? this.offsets[index] : this.visibleEnd);
  }

  /** True when compaction would likely pay: the log at least doubled (and grew by 1,000) since the last one. */
  get compactionDue(): boolean {
    return this.size > 2 * this.compactedSize + 1_000;
  }

  /** Keeps only the latest visible record of each key (records not yet visible are all kept). */
  compact(): number {
    const latest = new Map<string, number>();
    const visible = this.indexOf(this.visibleEnd);
    for (let i = this.head; i < visible; i++) latest.set(String(this.records[i].key), this.offsets[i]);
    const records: RawMessage[] = [];
    const offsets: number[] = [];
    for (let i = this.head; i < this.records.length; i++) {
      if (i < visible && latest.get(String(this.records[i].key)) !== this.offsets[i]) continue;
      records.push(this.records[i]);
      offsets.push(this.offsets[i]);
    }
    const dropped = this.size - records.length;
    this.records = records;
    this.offsets = offsets;
    this.head = 0;
    this.compactedSize = records.length;
    return dropped;
  }

  /** Index of the first record at or after `offset` (the end of the arrays when there is none). */
  private indexOf(offset: number): number {
    const guess = this.head + (offset - this.base);
    if (guess >= this.head && guess < this.records.length && this.offsets[guess] === offset) return guess;
    if (offset <= this.base) return this.head;
    let lo = this.head;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
