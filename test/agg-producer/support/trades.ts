/**
 * Deterministic trade streams for agg-producer's tests and bench, and an independent batch computation
 * of the statistics they must produce (a plain group-by over the whole stream, sharing no code with
 * the streaming implementation).
 */
import { DeribitTrade, EwmaParams, TradeStats } from '@lib/domain';

/** A small PRNG (mulberry32), so a seed always gives the same stream. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface StreamOptions {
  /** Event time of the first trade, epoch ms. */
  startMs: number;
  /** Trades in total. */
  count: number;
  /** Mean gap between consecutive trades of the whole stream, ms. */
  meanGapMs: number;
  seed: number;
  /** Instruments and their relative trade rates; a quiet one shows empty windows. */
  instruments?: readonly { name: string; price: number; weight: number }[];
  /** A stream this one continues: each instrument's trade_seq goes on from its last there (default: from 1). */
  continues?: readonly DeribitTrade[];
}

export const DEFAULT_INSTRUMENTS = [
  { name: 'BTC-PERPETUAL', price: 64_000, weight: 6 },
  { name: 'ETH-PERPETUAL', price: 3_100, weight: 3 },
  { name: 'SOL_USDC-PERPETUAL', price: 140, weight: 1 },
  { name: 'BTC-27MAR26-70000-C', price: 0.042, weight: 0.1 },
] as const;

/** Trades in event-time order, with per-instrument trade_seq, random-walk prices and amounts. */
export function tradeStream(opts: StreamOptions): DeribitTrade[] {
  const random = prng(opts.seed);
  const lastSeq = new Map<string, number>();
  for (const t of opts.continues ?? [])
    lastSeq.set(t.instrument_name, Math.max(lastSeq.get(t.instrument_name) ?? 0, t.trade_seq));
  const instruments = (opts.instruments ?? DEFAULT_INSTRUMENTS).map((i) => ({ ...i, seq: lastSeq.get(i.name) ?? 0 }));
  const totalWeight = instruments.reduce((s, i) => s + i.weight, 0);
  const trades: DeribitTrade[] = [];
  let time = opts.startMs;
  for (let n = 0; n < opts.count; n++) {
    let pick = random() * totalWeight;
    const instrument = instruments.find((i) => (pick -= i.weight) < 0) ?? instruments[0];
    instrument.seq += 1;
    instrument.price = Math.max(instrument.price * (1 + (random() - 0.5) * 0.002), 0.0001);
    const price = Number(instrument.price.toPrecision(8));
    trades.push({
      trade_seq: instrument.seq,
      trade_id: `${opts.seed}-${n}`,
      timestamp: Math.floor(time),
      tick_direction: Math.floor(random() * 4),
      price,
      mark_price: price,
      index_price: price,
      instrument_name: instrument.name,
      direction: random() < 0.5 ? 'buy' : 'sell',
      amount: Math.round(1 + random() * 999) * 10,
    });
    time += random() * 2 * opts.meanGapMs;
  }
  return trades;
}

/**
 * The statistics of every window from each instrument's first trade up to (excluding) `untilMs`, for a
 * stream in event-time order per instrument with a constant per-trade alpha (span or alpha mode):
 * group by (instrument, window), then fold the EWMA over each instrument's trades in order.
 */
export function expectedStats(
  trades: readonly DeribitTrade[],
  windowMs: number,
  alpha: number,
  params: EwmaParams,
  untilMs: number,
): TradeStats[] {
  const byInstrument = new Map<string, DeribitTrade[]>();
  for (const t of trades) byInstrument.set(t.instrument_name, [...(byInstrument.get(t.instrument_name) ?? []), t]);
  const out: TradeStats[] = [];
  for (const [instrument, list] of byInstrument) {
    let ewma = list[0].price;
    let i = 0;
    for (
      let start = Math.floor(list[0].timestamp / windowMs) * windowMs;
      start + windowMs <= untilMs;
      start += windowMs
    ) {
      const inWindow: DeribitTrade[] = [];
      while (i < list.length && list[i].timestamp < start + windowMs) {
        if (i > 0) ewma = (1 - alpha) * ewma + alpha * list[i].price;
        inWindow.push(list[i]);
        i += 1;
      }
      const volume = inWindow.reduce((s, t) => s + t.amount, 0);
      const prices = inWindow.map((t) => t.price);
      out.push({
        instrument,
        window_start: start,
        window_end: start + windowMs,
        count: inWindow.length,
        volume,
        vwap: inWindow.length > 0 ? inWindow.reduce((s, t) => s + t.price * t.amount, 0) / volume : null,
        open: inWindow.length > 0 ? prices[0] : null,
        high: inWindow.length > 0 ? Math.max(...prices) : null,
        low: inWindow.length > 0 ? Math.min(...prices) : null,
        close: inWindow.length > 0 ? prices[prices.length - 1] : null,
        ewma,
        ewma_params: params,
        revision: 0,
        unrecovered_trades: 0,
      });
    }
  }
  return out;
}

/** Orders statistics by instrument, then window, for comparing runs whose interleaving differs. */
export function sortStats(stats: readonly TradeStats[]): TradeStats[] {
  return [...stats].sort((a, b) =>
    a.instrument === b.instrument ? a.window_start - b.window_start : a.instrument < b.instrument ? -1 : 1,
  );
}
