import { TradeStats } from '../market/trade-stats';
import { TimeRange } from '../time/time-range';

/** What the read side knows of one instrument. */
export interface InstrumentSummary {
  readonly instrument: string;
  /** Windows stored. */
  readonly windows: number;
  /** Epoch ms of the first and the last window stored. */
  readonly firstWindowStart: number;
  readonly lastWindowStart: number;
}

/**
 * The windows agg-producer published (deribit-trade-stats), as the read side keeps them: one per
 * instrument and window start, the latest published version of it.
 *
 * - `save` is idempotent: a window saved again (a redelivery, a replay of the compacted topic)
 *   replaces the stored one, so consuming at least once stores each window exactly once.
 * - `windows` answers the newest `limit` windows of an instrument that start within the range, oldest
 *   first (what a chart draws); an unknown instrument has none.
 * - `latest` answers the newest window of every instrument, by instrument.
 */
export abstract class TradeStatsStore {
  abstract save(stats: readonly TradeStats[]): Promise<void>;
  abstract instruments(): Promise<InstrumentSummary[]>;
  abstract windows(instrument: string, range: TimeRange, limit: number): Promise<TradeStats[]>;
  abstract latest(): Promise<TradeStats[]>;
}
