export const EWMA_MODES = ['span', 'alpha', 'halflife'] as const;
export type EwmaMode = (typeof EWMA_MODES)[number];

/** How an EWMA was computed; published with every value so readers can interpret it. */
export interface EwmaParams {
  mode: EwmaMode;
  /** Per-trade smoothing factor (span N gives 2/(N+1)); null in halflife mode. */
  alpha: number | null;
  /** The span N when mode is span, else null. */
  span: number | null;
  /** Half-life in ms when mode is halflife, else null. */
  half_life_ms: number | null;
}

/**
 * Statistics of one instrument over one tumbling event-time window [window_start, window_end).
 * Price fields are null for a window without trades; the EWMA is carried from earlier windows
 * (null only before the instrument's first trade).
 */
export interface TradeStats {
  instrument: string;
  /** Epoch ms, aligned to the window length in UTC. */
  window_start: number;
  window_end: number;
  count: number;
  /** Sum of amount. */
  volume: number;
  /** sum(price * amount) / sum(amount). */
  vwap: number | null;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  /** EWMA of price as of the window's last trade (carried when the window is empty). */
  ewma: number | null;
  ewma_params: EwmaParams;
  /**
   * 0 when the window is first published. A trade that comes after its window was published (later than
   * the grace) but within the revision horizon is counted into it, and the window is published again with
   * the next revision, under the same key: readers keep the highest. The EWMA of a revision is the one first
   * published (the EWMA follows arrival order; a late trade is not folded into windows already published).
   */
  revision: number;
  /**
   * Trades of the instrument the source skipped (a trade_seq gap) that are not in this window's count: never
   * recovered, or not yet when this revision was published. A gap is counted in the window of the trade
   * that revealed it (the missing trades were made after the instrument's previous trade and before that
   * one). Trades a later back-fill recovers are counted into their own windows (a revision) and taken off
   * this number (another revision of this window), within the windows kept for revisions.
   */
  unrecovered_trades: number;
}
