/**
 * What a trade's trade_seq says relative to the last one seen of its instrument:
 * - `first`: nothing seen (or restored, see `restore`) before for this instrument;
 * - `next`: exactly the successor;
 * - `gap`: later than the successor; trades `from`..`to` (inclusive) were not seen;
 * - `stale`: not after the last one seen: a re-delivery (or a trade already covered by a gap).
 */
export type SequenceCheck =
  | { readonly kind: 'first' }
  | { readonly kind: 'next' }
  | { readonly kind: 'gap'; readonly from: number; readonly to: number; readonly missing: number }
  | { readonly kind: 'stale'; readonly last: number };

/**
 * Tracks the highest trade_seq per instrument. Deribit numbers each instrument's trades 1, 2, 3...
 * without holes, so a jump is a missed trade. Memory is one number per instrument.
 */
export class TradeSequenceTracker {
  private readonly last = new Map<string, number>();

  /** Classifies `seq` and, unless it is stale, makes it the instrument's last seen. */
  observe(instrument: string, seq: number): SequenceCheck {
    const last = this.last.get(instrument);
    if (last === undefined) {
      this.last.set(instrument, seq);
      return { kind: 'first' };
    }
    if (seq <= last) return { kind: 'stale', last };
    this.last.set(instrument, seq);
    if (seq === last + 1) return { kind: 'next' };
    return { kind: 'gap', from: last + 1, to: seq - 1, missing: seq - last - 1 };
  }

  /**
   * Remembers `seq` as already handled (at start-up, from what the topic holds): the instrument's next
   * trade is then checked against it, so a re-delivery is `stale` and a hole is a `gap` rather than the
   * `first` trade of an unknown instrument. Never moves an instrument's watermark back.
   */
  restore(instrument: string, seq: number): void {
    const last = this.last.get(instrument);
    if (last === undefined || seq > last) this.last.set(instrument, seq);
  }

  /** Last trade_seq seen of `instrument`, if any. */
  lastSeq(instrument: string): number | undefined {
    return this.last.get(instrument);
  }

  /** The instruments with a last trade_seq. */
  names(): IterableIterator<string> {
    return this.last.keys();
  }

  get instruments(): number {
    return this.last.size;
  }
}
