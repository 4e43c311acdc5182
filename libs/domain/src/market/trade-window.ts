import { EwmaPoint, EwmaSpec, checkEwmaSpec, ewmaNext, ewmaParamsOf } from './ewma';
import { EwmaParams, TradeStats } from './trade-stats';

/**
 * Per-instrument tumbling event-time windows, in the manner of Kafka Streams' windowed aggregation:
 * - window [start, start + length) with start a multiple of the length since the epoch, so windows whose
 *   length divides a day are aligned to UTC midnight;
 * - stream time of an instrument is the newest trade time it has accepted; a window closes when
 *   `closeTime = streamTime - grace` reaches its end (or, for a quiet instrument, when the caller passes
 *   a close time of its own, see {@link TradeWindowRules.closeUntil});
 * - once an instrument has been seen, every window is published in order, without holes: a window
 *   without trades has count 0 and carries the EWMA of the window before it;
 * - a trade whose window is already published is late: `add` refuses it; {@link TradeWindowRules.revise}
 *   counts it into the published window when that is among the last `revisionWindows` closed, which is
 *   then published again with the next revision; older than that, the caller reports it.
 */

/** What a window needs of a trade (a DeribitTrade has it). */
export interface WindowTrade {
  /** Event time, epoch ms. */
  readonly timestamp: number;
  readonly price: number;
  readonly amount: number;
}

/** Partial aggregate of a window that has trades and is not published yet. */
export interface OpenWindow {
  start: number;
  count: number;
  /** Sum of amount. */
  volume: number;
  /** Sum of price * amount, the VWAP's numerator. */
  notional: number;
  /** Price of the earliest trade (event time; the first to arrive among equal times). */
  open: number;
  openTime: number;
  high: number;
  low: number;
  /** Price of the latest trade (event time; the last to arrive among equal times). */
  close: number;
  closeTime: number;
  /** The EWMA right after the trade that set `close`. */
  ewma: number;
}

/** A published window kept for revisions: its aggregate (null while it has no trade) and what was published. */
export interface ClosedWindow {
  readonly start: number;
  /** The published revision (0: as first published). */
  revision: number;
  window: OpenWindow | null;
  /** The EWMA published with the window; every revision repeats it. */
  readonly ewma: number | null;
  /** Its `unrecovered_trades` as published. */
  unrecovered: number;
}

/** Unrecovered trades noticed in a window not published yet. */
export interface UnrecoveredCount {
  readonly start: number;
  count: number;
}

/** Everything an instrument's windows need to continue, as stored in the changelog. */
export interface InstrumentWindows {
  readonly instrument: string;
  /** Newest event time accepted, epoch ms. */
  streamTime: number;
  /** Start of the oldest window not yet published; every window before it is closed. */
  nextWindowStart: number;
  /** The EWMA over every accepted trade, in arrival order; carried across windows. */
  ewma: EwmaPoint | null;
  /** The EWMA published with the newest closed window, carried into empty windows after it. */
  carriedEwma: number | null;
  /** Windows with trades, not yet published, oldest first, all at or after nextWindowStart. */
  open: OpenWindow[];
  /** The last `revisionWindows` published windows, oldest first, all before nextWindowStart. */
  closed: ClosedWindow[];
  /** Unrecovered trades of windows not yet published, oldest first, all at or after nextWindowStart. */
  unrecovered: UnrecoveredCount[];
}

/** Where {@link TradeWindowRules.unrecovered} counted a gap. */
export type UnrecoveredPlace = 'open' | 'revised' | 'too-old';

export interface TradeWindowOptions {
  readonly windowMs: number;
  readonly graceMs: number;
  readonly ewma: EwmaSpec;
  /** Published windows a late trade may still revise (0: none, late trades are refused). Default 0. */
  readonly revisionWindows?: number;
}

/** Start of the window holding `time` (floors, so times before 1970 work too). */
export function windowStartOf(time: number, windowMs: number): number {
  return Math.floor(time / windowMs) * windowMs;
}

export class TradeWindowRules {
  readonly windowMs: number;
  readonly graceMs: number;
  readonly ewma: EwmaSpec;
  readonly ewmaParams: EwmaParams;
  readonly revisionWindows: number;

  constructor(options: TradeWindowOptions) {
    if (!(Number.isInteger(options.windowMs) && options.windowMs > 0)) {
      throw new RangeError(`window length must be a positive whole number of ms, got ${options.windowMs}`);
    }
    if (!(options.graceMs >= 0)) throw new RangeError(`grace must be >= 0 ms, got ${options.graceMs}`);
    this.windowMs = options.windowMs;
    this.graceMs = options.graceMs;
    this.ewma = checkEwmaSpec(options.ewma);
    this.ewmaParams = ewmaParamsOf(options.ewma);
    const revisionWindows = options.revisionWindows ?? 0;
    if (!(Number.isInteger(revisionWindows) && revisionWindows >= 0)) {
      throw new RangeError(`revision windows must be a whole number >= 0, got ${revisionWindows}`);
    }
    this.revisionWindows = revisionWindows;
  }

  /** State of an instrument before its first trade: windows start at that trade's window. */
  begin(instrument: string, first: WindowTrade): InstrumentWindows {
    return {
      instrument,
      streamTime: first.timestamp,
      nextWindowStart: windowStartOf(first.timestamp, this.windowMs),
      ewma: null,
      carriedEwma: null,
      open: [],
      closed: [],
      unrecovered: [],
    };
  }

  /**
   * Adds a trade and appends to `closed` the windows its event time closes. Returns false, changing
   * nothing, when the trade is late (its window is already published).
   */
  add(state: InstrumentWindows, trade: WindowTrade, closed: TradeStats[]): boolean {
    const start = windowStartOf(trade.timestamp, this.windowMs);
    if (start < state.nextWindowStart) return false;

    state.streamTime = Math.max(state.streamTime, trade.timestamp);
    state.ewma = ewmaNext(this.ewma, state.ewma, trade.price, trade.timestamp);
    const window = this.openWindow(state, start, trade);
    if (accumulate(window, trade)) window.ewma = state.ewma.value;

    this.closeUntil(state, state.streamTime - this.graceMs, closed);
    return true;
  }

  /**
   * A late trade (one `add` refused): when its window is among the kept published ones, counts it in and
   * appends the window's next revision to `revised`; returns false, changing nothing, when it is older.
   * The EWMA is left alone: the revision repeats the EWMA first published, and the running EWMA does not
   * take the trade (it follows the trades in the order they were accepted into open windows).
   */
  revise(state: InstrumentWindows, trade: WindowTrade, revised: TradeStats[]): boolean {
    const start = windowStartOf(trade.timestamp, this.windowMs);
    const kept = state.closed.find((c) => c.start === start);
    if (kept === undefined) return false;
    if (kept.window === null) kept.window = newWindow(start, trade, kept.ewma ?? trade.price);
    accumulate(kept.window, trade);
    this.republish(state.instrument, kept, revised);
    return true;
  }

  /**
   * Counts `count` trades the source lost (a trade_seq gap the back-fill could not fill; negative: trades of
   * such a gap recovered since) into the window holding `time`, the time of the trade that revealed the
   * gap. A window not yet published carries them when it is; a kept published one is published again with
   * the next revision (appended to `revised`); an older one is not changed ('too-old': the caller reports
   * it). Never below 0.
   */
  unrecovered(state: InstrumentWindows, time: number, count: number, revised: TradeStats[]): UnrecoveredPlace {
    const start = windowStartOf(time, this.windowMs);
    if (start < state.nextWindowStart) {
      const kept = state.closed.find((c) => c.start === start);
      if (kept === undefined) return 'too-old';
      kept.unrecovered = Math.max(0, kept.unrecovered + count);
      this.republish(state.instrument, kept, revised);
      return 'revised';
    }
    const list = state.unrecovered;
    let i = list.length;
    while (i > 0 && list[i - 1].start > start) i -= 1;
    if (i > 0 && list[i - 1].start === start) list[i - 1].count = Math.max(0, list[i - 1].count + count);
    else list.splice(i, 0, { start, count: Math.max(0, count) });
    return 'open';
  }

  /** The kept window's next revision, appended to `revised`. */
  private republish(instrument: string, kept: ClosedWindow, revised: TradeStats[]): void {
    kept.revision += 1;
    const stats =
      kept.window === null
        ? this.emptyStats(instrument, kept.start, kept.ewma)
        : { ...this.statsOf(instrument, kept.window), ewma: kept.ewma };
    revised.push({ ...stats, revision: kept.revision, unrecovered_trades: kept.unrecovered });
  }

  /**
   * Publishes, in order, every unpublished window that ends at or before `closeTime`, appending them to
   * `closed`; returns how many. Event time calls it with streamTime - grace; the idle check with a
   * close time of its own.
   */
  closeUntil(state: InstrumentWindows, closeTime: number, closed: TradeStats[]): number {
    let count = 0;
    while (state.nextWindowStart + this.windowMs <= closeTime) {
      const start = state.nextWindowStart;
      const window = state.open.length > 0 && state.open[0].start === start ? state.open.shift() : undefined;
      const stats = window
        ? this.statsOf(state.instrument, window)
        : this.emptyStats(state.instrument, start, state.carriedEwma);
      // Counts of windows before this one cannot be left (every one closes in turn), so the first is this one's.
      while (state.unrecovered.length > 0 && state.unrecovered[0].start <= start) {
        const entry = state.unrecovered.shift() as UnrecoveredCount;
        if (entry.start === start) stats.unrecovered_trades = entry.count;
      }
      state.carriedEwma = stats.ewma;
      state.nextWindowStart = start + this.windowMs;
      closed.push(stats);
      count += 1;
      if (this.revisionWindows > 0) {
        state.closed.push({
          start,
          revision: 0,
          window: window ?? null,
          ewma: stats.ewma,
          unrecovered: stats.unrecovered_trades,
        });
        if (state.closed.length > this.revisionWindows) state.closed.shift();
      }
    }
    return count;
  }

  /** The open window starting at `start`, created (in order) when the trade is its first. */
  private openWindow(state: InstrumentWindows, start: number, trade: WindowTrade): OpenWindow {
    const open = state.open;
    let i = open.length;
    // Trades of an instrument arrive nearly in time order: the window is almost always the newest one.
    while (i > 0 && open[i - 1].start > start) i -= 1;
    if (i > 0 && open[i - 1].start === start) return open[i - 1];
    const window = newWindow(start, trade, trade.price);
    open.splice(i, 0, window);
    return window;
  }

  private statsOf(instrument: string, w: OpenWindow): TradeStats {
    return {
      instrument,
      window_start: w.start,
      window_end: w.start + this.windowMs,
      count: w.count,
      volume: w.volume,
      vwap: w.volume > 0 ? w.notional / w.volume : null,
      open: w.open,
      high: w.high,
      low: w.low,
      close: w.close,
      ewma: w.ewma,
      ewma_params: this.ewmaParams,
      revision: 0,
      unrecovered_trades: 0,
    };
  }

  private emptyStats(instrument: string, start: number, ewma: number | null): TradeStats {
    return {
      instrument,
      window_start: start,
      window_end: start + this.windowMs,
      count: 0,
      volume: 0,
      vwap: null,
      open: null,
      high: null,
      low: null,
      close: null,
      ewma,
      ewma_params: this.ewmaParams,
      revision: 0,
      unrecovered_trades: 0,
    };
  }
}

/** An aggregate with no trade yet, seeded with `trade`'s price and time (accumulate then counts it). */
function newWindow(start: number, trade: WindowTrade, ewma: number): OpenWindow {
  return {
    start,
    count: 0,
    volume: 0,
    notional: 0,
    open: trade.price,
    openTime: trade.timestamp,
    high: trade.price,
    low: trade.price,
    close: trade.price,
    closeTime: trade.timestamp,
    ewma,
  };
}

/** Counts `trade` into `window`; true when it is the window's latest trade so far (it set `close`). */
function accumulate(window: OpenWindow, trade: WindowTrade): boolean {
  window.count += 1;
  window.volume += trade.amount;
  window.notional += trade.price * trade.amount;
  window.high = Math.max(window.high, trade.price);
  window.low = Math.min(window.low, trade.price);
  if (trade.timestamp < window.openTime) {
    window.open = trade.price;
    window.openTime = trade.timestamp;
  }
  if (trade.timestamp < window.closeTime) return false;
  window.close = trade.price;
  window.closeTime = trade.timestamp;
  return true;
}
