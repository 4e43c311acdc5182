import type { DeribitTrade, TradeStats, UserTag } from '@lib/domain';

/** Representative values of each schema, for tests and benchmarks. */

export function sampleUserTag(i = 0, overrides: Partial<UserTag> = {}): UserTag {
  return {
    time: '2022-03-22T12:15:00.000Z',
    cookie: `cookie-${i % 1000}`,
    country: 'PL',
    device: i % 3 === 0 ? 'PC' : i % 3 === 1 ? 'MOBILE' : 'TV',
    action: i % 2 === 0 ? 'VIEW' : 'BUY',
    origin: 'ad-campaign-7',
    product_info: {
      product_id: i % 2 === 0 ? `p-${i}` : i,
      brand_id: 'brand-3',
      category_id: 'shoes',
      price: 1999 + i,
    },
    ...overrides,
  };
}

/** A perpetual trade as Deribit sends it: the optional fields are absent. */
export function sampleTrade(i = 0, overrides: Partial<DeribitTrade> = {}): DeribitTrade {
  return {
    trade_seq: 30_289_432 + i,
    trade_id: String(48_079_254 + i),
    timestamp: 1_590_484_156_350 + i,
    tick_direction: i % 4,
    price: 8950 + (i % 10) * 0.5,
    mark_price: 8948.9,
    index_price: 8955.88,
    instrument_name: i % 2 === 0 ? 'BTC-PERPETUAL' : 'ETH-PERPETUAL',
    direction: i % 2 === 0 ? 'sell' : 'buy',
    amount: 10,
    ...overrides,
  };
}

/** An option block trade with every optional field set. */
export function sampleOptionTrade(): DeribitTrade {
  return sampleTrade(1, {
    instrument_name: 'BTC-27DEC24-100000-C',
    contracts: 2.5,
    iv: 61.23,
    liquidation: 'MT',
    block_trade_id: '154',
    block_trade_leg_count: 2,
    combo_id: 'BTC-CS-27DEC24-100000_110000',
    combo_trade_id: 1_234_567,
  });
}

export function sampleTradeStats(overrides: Partial<TradeStats> = {}): TradeStats {
  return {
    instrument: 'BTC-PERPETUAL',
    window_start: 1_590_484_140_000,
    window_end: 1_590_484_200_000,
    count: 42,
    volume: 1234.5,
    vwap: 8951.25,
    open: 8950,
    high: 8960.5,
    low: 8940,
    close: 8955,
    ewma: 8952.1,
    ewma_params: { mode: 'span', alpha: 2 / 21, span: 20, half_life_ms: null },
    revision: 0,
    unrecovered_trades: 0,
    ...overrides,
  };
}
