/**
 * TradeStatsStore contract on PostgreSQL and on PGlite: saves are idempotent and the latest version of
 * a window wins; windows are answered by range first, then the newest `limit`, oldest first; `latest`
 * and `instruments` summarise every instrument. Values round-trip exactly (nulls, doubles, EWMA modes).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TradeStats, TradeStatsStore } from '@lib/domain';
import { sampleTradeStats } from '@lib/kafka-avro/testing/sample-values';
import { createTestDatabase } from '../../../../test/support/test-env';
import { closeDataSource, createDataSource } from '../connection/data-source.factory';
import { PgTradeStatsStore } from './pg-trade-stats.store';

const MINUTE = 60_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');
const ALL = { fromMs: Number.MIN_SAFE_INTEGER, toMs: Number.MAX_SAFE_INTEGER };

function window(instrument: string, minute: number, overrides: Partial<TradeStats> = {}): TradeStats {
  const start = T0 + minute * MINUTE;
  return sampleTradeStats({
    instrument,
    window_start: start,
    window_end: start + MINUTE,
    count: 10 + minute,
    close: 100 + minute + 0.125,
    ...overrides,
  });
}

const targets: Array<{ name: string; open(): Promise<{ store: TradeStatsStore; close(): Promise<void> }> }> = [
  {
    name: 'PostgreSQL',
    open: async () => {
      const db = await createTestDatabase('trade_stats');
      const dataSource = await createDataSource({
        DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: 2,
        DATA_DIR: '/nonexistent',
      });
      return {
        store: new PgTradeStatsStore(dataSource),
        close: async () => {
          await closeDataSource(dataSource);
          await db.drop();
        },
      };
    },
  },
  {
    name: 'PGlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'trade-stats-pglite-'));
      const dataSource = await createDataSource({ DATABASE_POOL_SIZE: 1, DATA_DIR: dir });
      return {
        store: new PgTradeStatsStore(dataSource),
        close: async () => {
          await closeDataSource(dataSource);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

describe.each(targets)('TradeStatsStore on $name', (target) => {
  let store: TradeStatsStore;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close } = await target.open());
  });

  afterAll(async () => {
    await close?.();
  });

  it('stores windows exactly, idempotently, the latest version of a window winning', async () => {
    const empty = window('EMPTY-1', 0, {
      count: 0,
      volume: 0,
      vwap: null,
      open: null,
      high: null,
      low: null,
      close: null,
      ewma: null,
      ewma_params: { mode: 'halflife', alpha: null, span: null, half_life_ms: 30_000 },
    });
    const btc = [0, 1, 2].map((m) => window('BTC-PERPETUAL', m));
    await store.save([...btc, empty]);
    await store.save([...btc, empty]); // redelivered
    const revised = { ...btc[1], count: 99, close: 1e-9, revision: 3, unrecovered_trades: 7 };
    await store.save([revised]);
    expect(await store.windows('BTC-PERPETUAL', ALL, 10)).toEqual([btc[0], revised, btc[2]]);
    expect(await store.windows('EMPTY-1', ALL, 10)).toEqual([empty]);
    // Two versions of one window in one call: the later one wins.
    await store.save([window('DUP-1', 0, { count: 1 }), window('DUP-1', 0, { count: 2, revision: 1 })]);
    expect((await store.windows('DUP-1', ALL, 10)).map((w) => [w.count, w.revision])).toEqual([[2, 1]]);
  });

  it('answers the range first, then the newest limit, oldest first', async () => {
    const eth = Array.from({ length: 30 }, (_, m) => window('ETH-PERPETUAL', m));
    await store.save(eth);
    const range = { fromMs: T0 + 5 * MINUTE, toMs: T0 + 20 * MINUTE };
    expect(await store.windows('ETH-PERPETUAL', range, 100)).toEqual(eth.slice(5, 20));
    expect(await store.windows('ETH-PERPETUAL', range, 4)).toEqual(eth.slice(16, 20));
    expect(await store.windows('ETH-PERPETUAL', ALL, 3)).toEqual(eth.slice(27, 30));
    expect(await store.windows('NOPE-1', ALL, 3)).toEqual([]);
  });

  it('summarises instruments and answers the newest window of each', async () => {
    const instruments = await store.instruments();
    expect(instruments.map((i) => i.instrument)).toEqual(['BTC-PERPETUAL', 'DUP-1', 'EMPTY-1', 'ETH-PERPETUAL']);
    expect(instruments.find((i) => i.instrument === 'ETH-PERPETUAL')).toEqual({
      instrument: 'ETH-PERPETUAL',
      windows: 30,
      firstWindowStart: T0,
      lastWindowStart: T0 + 29 * MINUTE,
    });
    const latest = await store.latest();
    expect(latest.map((w) => [w.instrument, (w.window_start - T0) / MINUTE])).toEqual([
      ['BTC-PERPETUAL', 2],
      ['DUP-1', 0],
      ['EMPTY-1', 0],
      ['ETH-PERPETUAL', 29],
    ]);
  });
});
