/**
 * The last `capacity` distinct ids seen, in insertion order: remembering a new id beyond capacity forgets
 * the oldest. Memory is O(capacity) whatever the input, so it can sit on an unbounded stream.
 * Used to drop duplicate trade_ids: a duplicate older than `capacity` newer ids is no longer recognised
 * (the per-instrument trade_seq watermark of TradeSequenceTracker catches those).
 */
export class RecentIdSet {
  private readonly ids = new Set<string>();
  private readonly ring: (string | undefined)[];
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array<string | undefined>(capacity);
  }

  has(id: string): boolean {
    return this.ids.has(id);
  }

  /** Remembers `id`; returns false (and changes nothing) when it is already remembered. */
  add(id: string): boolean {
    if (this.ids.has(id)) return false;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.ids.delete(evicted);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.ids.add(id);
    return true;
  }

  get size(): number {
    return this.ids.size;
  }
}
