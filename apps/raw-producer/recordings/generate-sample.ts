/**
 * Writes sample.ndjson: three minutes of Deribit trade notifications as the websocket delivers them
 * (100ms channels), reproducibly (seeded). Run: `npx tsx apps/raw-producer/recordings/generate-sample.ts`.
 *
 * Modelled on real BTC/ETH markets: perpetuals carry most trades, a dated future trades at a premium,
 * options are priced in BTC with an implied volatility; there is a liquidation sweep on BTC-PERPETUAL and a
 * two-leg block trade (option + future hedge). Trade ids grow per currency (BTC numeric, ETH "ETH-"), and
 * trade_seq grows by one per instrument with no gap. Besides notifications the file holds what a recorder
 * sees on the wire (the subscribe answer, heartbeats), which a replay skips.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeribitTrade } from '@lib/domain';

const START = Date.UTC(2026, 10, 20, 14, 0, 0, 0);
const DURATION_MS = 180_000;
const OUT = join(__dirname, 'sample.ndjson');

interface Instrument {
  name: string;
  channel: string;
  currency: 'BTC' | 'ETH';
  kind: 'perpetual' | 'future' | 'option';
  /** Mean trades per second. */
  rate: number;
  price: number;
  tick: number;
  /** Amount unit: USD for perpetuals and futures (contract size), BTC for options. */
  lot: number;
  maxLots: number;
  seq: number;
  /** Premium of the price over the index (futures). */
  basis: number;
  iv?: number;
}

/** mulberry32: small, fast, good enough for test data, and the same on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const random = prng(0x5eed_2026);
const roundTo = (x: number, step: number): number => Number((Math.round(x / step) * step).toFixed(10));

const instruments: Instrument[] = [
  {
    name: 'BTC-PERPETUAL',
    channel: 'trades.BTC-PERPETUAL.100ms',
    currency: 'BTC',
    kind: 'perpetual',
    rate: 1.0,
    price: 97_215.5,
    tick: 0.5,
    lot: 10,
    maxLots: 2_000,
    seq: 218_453_112,
    basis: 0.0004,
  },
  {
    name: 'ETH-PERPETUAL',
    channel: 'trades.ETH-PERPETUAL.100ms',
    currency: 'ETH',
    kind: 'perpetual',
    rate: 0.6,
    price: 3_412.35,
    tick: 0.05,
    lot: 1,
    maxLots: 20_000,
    seq: 176_204_551,
    basis: 0.0003,
  },
  {
    name: 'BTC-25DEC26',
    channel: 'trades.BTC-25DEC26.100ms',
    currency: 'BTC',
    kind: 'future',
    rate: 0.2,
    price: 98_342.5,
    tick: 2.5,
    lot: 10,
    maxLots: 5_000,
    seq: 3_412_880,
    basis: 0.0118,
  },
  {
    name: 'BTC-27NOV26-100000-C',
    channel: 'trades.option.BTC.100ms',
    currency: 'BTC',
    kind: 'option',
    rate: 0.08,
    price: 0.0085,
    tick: 0.0001,
    lot: 0.1,
    maxLots: 50,
    seq: 12_044,
    basis: 0,
    iv: 46.8,
  },
  {
    name: 'BTC-25DEC26-110000-C',
    channel: 'trades.option.BTC.100ms',
    currency: 'BTC',
    kind: 'option',
    rate: 0.04,
    price: 0.0125,
    tick: 0.0005,
    lot: 0.1,
    maxLots: 100,
    seq: 8_311,
    basis: 0,
    iv: 49.2,
  },
];
const byName = new Map(instruments.map((i) => [i.name, i]));

let btcIndex = 97_180.42;
let ethIndex = 3_410.87;
let nextBtcId = 398_114_500;
let nextEthId = 287_655_900;
const lastPrice = new Map<string, number>();
const lastTick = new Map<string, number>();

function tickDirection(instrument: string, price: number): number {
  const prev = lastPrice.get(instrument);
  let dir: number;
  if (prev === undefined || price > prev) dir = 0;
  else if (price < prev) dir = 2;
  else dir = (lastTick.get(instrument) ?? 0) <= 1 ? 1 : 3;
  lastPrice.set(instrument, price);
  lastTick.set(instrument, dir);
  return dir;
}

function makeTrade(inst: Instrument, at: number, extra: Partial<DeribitTrade> = {}, lots?: number): DeribitTrade {
  const index = inst.currency === 'BTC' ? btcIndex : ethIndex;
  const n = lots ?? 1 + Math.floor(random() ** 3 * inst.maxLots);
  const amount = roundTo(n * inst.lot, inst.lot);
  const direction = extra.direction ?? (random() < 0.5 ? 'buy' : 'sell');
  // Futures track the index plus their basis; options wander on their own. Trades print on the
  // aggressor's side of the spread.
  const side = direction === 'buy' ? inst.tick : -inst.tick;
  const fair = inst.kind === 'option' ? inst.price : index * (1 + inst.basis);
  const drift = (random() - 0.5) * 4 * inst.tick + side;
  inst.price = Math.max(inst.tick, roundTo(extra.price ?? fair + drift, inst.tick));
  const markPrice = Number((inst.price + (random() - 0.5) * inst.tick).toFixed(inst.kind === 'option' ? 6 : 2));
  const id = inst.currency === 'BTC' ? String(nextBtcId++) : `ETH-${nextEthId++}`;
  const trade: DeribitTrade = {
    trade_seq: ++inst.seq,
    trade_id: id,
    timestamp: at,
    tick_direction: tickDirection(inst.name, inst.price),
    price: inst.price,
    mark_price: markPrice,
    index_price: Number(index.toFixed(2)),
    instrument_name: inst.name,
    direction,
    amount,
    contracts: inst.kind === 'option' ? amount : roundTo(amount / inst.lot, 1),
    ...extra,
  };
  trade.price = inst.price;
  if (inst.kind === 'option' && inst.iv !== undefined) {
    inst.iv = Number((inst.iv + (random() - 0.5) * 0.4).toFixed(2));
    trade.iv = inst.iv;
  }
  return trade;
}

/** What happens, and when; trades are made from these in time order so seqs, ids and ticks follow time. */
interface Order {
  at: number;
  inst: Instrument;
  extra?: Partial<DeribitTrade>;
  lots?: number;
  /** The index moves once per 100 ms step; orders of one step see the same index. */
  step: number;
}
const orders: Order[] = [];
for (let t = START, step = 0; t < START + DURATION_MS; t += 100, step++) {
  for (const inst of instruments) {
    if (random() < inst.rate / 10) orders.push({ at: t + Math.floor(random() * 100), inst, step });
  }
  // A liquidation: a large taker sell sweeps four levels of BTC-PERPETUAL in one millisecond.
  if (t === START + 72_000) {
    const perp = byName.get('BTC-PERPETUAL') as Instrument;
    for (let level = 0; level < 4; level++) {
      orders.push({
        at: t + 37,
        inst: perp,
        extra: { direction: 'sell', liquidation: 'T' },
        lots: 400 + level * 150,
        step,
      });
    }
  }
  // A block trade: buy 25 BTC of calls, hedged by selling the December future; both legs at once.
  if (t === START + 131_000) {
    const block = { block_trade_id: '1846201', block_trade_leg_count: 2 };
    orders.push({
      at: t + 12,
      inst: byName.get('BTC-25DEC26-110000-C') as Instrument,
      extra: { ...block, direction: 'buy' },
      lots: 250,
      step,
    });
    orders.push({
      at: t + 12,
      inst: byName.get('BTC-25DEC26') as Instrument,
      extra: { ...block, direction: 'sell' },
      lots: 100_000,
      step,
    });
  }
}
orders.sort((a, b) => a.at - b.at); // stable: the liquidation's levels keep their order

const trades: DeribitTrade[] = [];
let indexStep = -1;
for (const o of orders) {
  while (indexStep < o.step) {
    btcIndex += (random() - 0.5) * 6;
    ethIndex += (random() - 0.5) * 0.3;
    indexStep++;
  }
  const extra = { ...o.extra };
  // Each level of the sweep prints two ticks below the previous one.
  if (extra.liquidation !== undefined) extra.price = o.inst.price - 2 * o.inst.tick;
  trades.push(makeTrade(o.inst, o.at, extra, o.lots));
}

/** Deribit's 100ms channels deliver, per channel, the trades of each 100 ms in one notification. */
interface Frame {
  at: number;
  line: string;
}
const frames: Frame[] = [];
const groups = new Map<string, DeribitTrade[]>();
for (const trade of trades) {
  const inst = byName.get(trade.instrument_name) as Instrument;
  const key = `${Math.floor(trade.timestamp / 100)}|${inst.channel}`;
  const group = groups.get(key) ?? [];
  group.push(trade);
  groups.set(key, group);
}
for (const [key, data] of groups) {
  const [bucket, channel] = key.split('|');
  frames.push({
    at: (Number(bucket) + 1) * 100,
    line: JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel, data } }),
  });
}
for (let at = START + 10_000; at < START + DURATION_MS; at += 10_000) {
  frames.push({ at, line: JSON.stringify({ jsonrpc: '2.0', method: 'heartbeat', params: { type: 'heartbeat' } }) });
}
frames.sort((a, b) => a.at - b.at);
const subscribeAnswer = JSON.stringify({
  jsonrpc: '2.0',
  id: 2,
  result: [...new Set(instruments.map((i) => i.channel))],
  usIn: START * 1_000 - 12_400,
  usOut: START * 1_000 - 12_210,
  usDiff: 190,
  testnet: false,
});

writeFileSync(OUT, [subscribeAnswer, ...frames.map((f) => f.line)].join('\n') + '\n');
const perInstrument = instruments.map((i) => `${i.name} ${trades.filter((t) => t.instrument_name === i.name).length}`);
process.stdout.write(
  `wrote ${trades.length} trades in ${frames.length} frames to ${OUT}: ${perInstrument.join(', ')}\n`,
);
