import { DeribitTrade } from '@lib/domain';
import { TradeGap } from '@lib/kafka-avro';

/**
 * The trades ready for Kafka, in the order they were accepted, between the admission (which pushes) and
 * the publish loop (which takes). It also carries the two hand-offs between them: the publish loop waits
 * for an arrival when it is empty, and the source waits for space when it is full (backpressure).
 */
export class TradeQueue {
  private items: DeribitTrade[] = [];
  private head = 0;
  /** Trades taken so far. */
  private taken = 0;
  /** The newest watermark asked for, and how many trades must be taken (and written) before it. */
  private mark: { readonly time: number; readonly after: number } | undefined;
  /** Changes in unrecovered trades to write, each after the trades queued before it, in order. */
  private gaps: { readonly instrument: string; readonly gap: TradeGap; readonly after: number }[] = [];
  private spaceWaiters: (() => void)[] = [];
  private arrival: (() => void) | undefined;

  get size(): number {
    return this.items.length - this.head;
  }

  push(trade: DeribitTrade): void {
    this.items.push(trade);
  }

  /**
   * Asks for a watermark after the trades queued so far (a newer one replaces one still waiting): the
   * consumer writes it once they are written.
   */
  markWatermark(time: number): void {
    this.mark = { time, after: this.taken + this.size };
  }

  /** The watermark to write now (every trade queued before it was taken), removed; else undefined. */
  takeWatermark(): number | undefined {
    const mark = this.mark;
    if (mark === undefined || mark.after > this.taken) return undefined;
    this.mark = undefined;
    return mark.time;
  }

  /** Asks for a gap marker (TradeGap) of `instrument` after the trades queued so far; none is dropped. */
  markGap(instrument: string, gap: TradeGap): void {
    this.gaps.push({ instrument, gap, after: this.taken + this.size });
  }

  /** The gap markers to write now (every trade queued before them was taken), removed, in order. */
  takeGaps(): { readonly instrument: string; readonly gap: TradeGap }[] {
    let n = 0;
    while (n < this.gaps.length && this.gaps[n].after <= this.taken) n++;
    return n === 0 ? [] : this.gaps.splice(0, n);
  }

  /**
   * The oldest `n` trades (fewer when there are not as many), removed from the queue; never past a gap
   * marker still to write, so that it goes right after the trades queued before it.
   */
  take(n: number): DeribitTrade[] {
    const upTo = this.gaps.length > 0 ? Math.min(n, this.gaps[0].after - this.taken) : n;
    const batch = this.items.slice(this.head, this.head + Math.max(0, upTo));
    this.head += batch.length;
    this.taken += batch.length;
    // Compact once the consumed prefix dominates, so the array does not grow without bound.
    if (this.head >= 4_096 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Resolves at the next `wake` (for the one consumer, when it found the queue empty). */
  nextArrival(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.arrival = () => {
        this.arrival = undefined;
        resolve();
      };
    });
  }

  /** Tells the consumer to look again: trades were pushed, or the queue is draining. */
  wake(): void {
    this.arrival?.();
  }

  /** Resolves once `releaseSpace` is called (for the producer, when the queue is full). */
  waitForSpace(): Promise<void> {
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  releaseSpace(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
