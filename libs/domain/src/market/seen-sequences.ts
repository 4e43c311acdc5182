/**
 * The trade_seq values of one instrument already counted, as sorted disjoint ranges: a duplicate trade
 * (raw-producer may publish one twice after a publish timeout) has a trade_seq already in a range. Deribit
 * numbers each instrument's trades 1, 2, 3..., so the counted ones form one range, plus one more per gap
 * that was never filled: the state stays a few numbers however many trades pass (a set of trade_ids
 * would grow with every trade of an open window, and go into every changelog record). At most
 * `maxRanges` are kept; past that the oldest go, and a duplicate that old is no longer recognised (its
 * window has long been published: it is refused as late instead).
 */
export class SeenSequences {
  /** [lo0, hi0, lo1, hi1, ...], ascending, ranges inclusive, never touching (lo(i+1) > hi(i) + 1). */
  private ranges: number[];

  constructor(
    flat: readonly number[] = [],
    readonly maxRanges = 64,
  ) {
    if (flat.length % 2 !== 0) throw new RangeError('seen sequences: an odd number of bounds');
    this.ranges = [...flat];
  }

  has(seq: number): boolean {
    const r = this.ranges;
    // Most trades are new and come after the last range: look there first.
    if (r.length === 0 || seq > r[r.length - 1]) return false;
    let lo = 0;
    let hi = r.length / 2 - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (seq < r[2 * mid]) hi = mid - 1;
      else if (seq > r[2 * mid + 1]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Adds `seq`; answers false (changing nothing) when it is already in. */
  add(seq: number): boolean {
    const r = this.ranges;
    const n = r.length;
    // The usual case: the next trade of the instrument.
    if (n > 0 && seq === r[n - 1] + 1) {
      r[n - 1] = seq;
      return true;
    }
    if (this.has(seq)) return false;
    // Index of the first range starting after seq.
    let i = 0;
    while (i < n && r[i] <= seq) i += 2;
    const joinsPrevious = i > 0 && r[i - 1] === seq - 1;
    const joinsNext = i < n && r[i] === seq + 1;
    if (joinsPrevious && joinsNext) r.splice(i - 1, 2);
    else if (joinsPrevious) r[i - 1] = seq;
    else if (joinsNext) r[i] = seq;
    else r.splice(i, 0, seq, seq);
    if (r.length > 2 * this.maxRanges) this.ranges = r.slice(r.length - 2 * this.maxRanges);
    return true;
  }

  /** The ranges as flat bounds, for the changelog. */
  toFlat(): number[] {
    return [...this.ranges];
  }

  get rangeCount(): number {
    return this.ranges.length / 2;
  }
}
