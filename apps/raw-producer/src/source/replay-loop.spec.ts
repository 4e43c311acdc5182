import { DeribitTrade } from '@lib/domain';
import { ReplayLoopShifter } from './replay-loop';

const base: DeribitTrade = {
  trade_seq: 1,
  trade_id: '100',
  timestamp: 1_000,
  tick_direction: 0,
  price: 1,
  mark_price: 1,
  index_price: 1,
  instrument_name: 'BTC-PERPETUAL',
  direction: 'buy',
  amount: 10,
};

function recording(): DeribitTrade[] {
  return [
    { ...base, trade_seq: 10, trade_id: '100', timestamp: 1_000 },
    { ...base, trade_seq: 7, trade_id: 'ETH-500', timestamp: 1_500, instrument_name: 'ETH-PERPETUAL' },
    { ...base, trade_seq: 11, trade_id: '103', timestamp: 2_000, block_trade_id: '77', block_trade_leg_count: 2 },
    {
      ...base,
      trade_seq: 8,
      trade_id: 'ETH-502',
      timestamp: 3_000,
      instrument_name: 'ETH-PERPETUAL',
      combo_trade_id: 5,
    },
  ];
}

describe('ReplayLoopShifter', () => {
  const shifter = new ReplayLoopShifter();
  for (const t of recording()) shifter.observe(t);

  it('leaves pass 0 untouched', () => {
    const [t] = recording();
    expect(shifter.shift(t, 0)).toBe(t);
  });

  it('continues trade_seq per instrument without gap or repeat', () => {
    const passes = [0, 1, 2].flatMap((p) => recording().map((t) => shifter.shift(t, p)));
    const seqsOf = (instrument: string): number[] =>
      passes.filter((t) => t.instrument_name === instrument).map((t) => t.trade_seq);
    expect(seqsOf('BTC-PERPETUAL')).toEqual([10, 11, 12, 13, 14, 15]);
    expect(seqsOf('ETH-PERPETUAL')).toEqual([7, 8, 9, 10, 11, 12]);
  });

  it('keeps ids distinct across passes and their prefixes intact', () => {
    const passes = [0, 1, 2, 3].flatMap((p) => recording().map((t) => shifter.shift(t, p)));
    const ids = passes.map((t) => t.trade_id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(shifter.shift(recording()[1], 1).trade_id).toBe('ETH-503');
    expect(shifter.shift(recording()[0], 1).trade_id).toBe('104');
    const blocks = passes.filter((t) => t.block_trade_id).map((t) => t.block_trade_id);
    expect(new Set(blocks).size).toBe(4);
    const combos = passes.filter((t) => t.combo_trade_id).map((t) => t.combo_trade_id);
    expect(new Set(combos).size).toBe(4);
  });

  it('moves timestamps by the duration plus the mean spacing, so event time keeps increasing', () => {
    expect(shifter.periodMs).toBe(2_000 + 667);
    const passes = [0, 1, 2].flatMap((p) => recording().map((t) => shifter.shift(t, p).timestamp));
    expect([...passes].sort((a, b) => a - b)).toEqual(passes);
  });

  it('keeps every other field as recorded', () => {
    const s = new ReplayLoopShifter();
    const option: DeribitTrade = {
      ...base,
      instrument_name: 'BTC-27NOV26-100000-C',
      contracts: 2.5,
      iv: 48.2,
      liquidation: 'MT',
      block_trade_id: null,
      block_trade_leg_count: 2,
      combo_id: 'BTC-CS-27NOV26-100000_110000',
      combo_trade_id: null,
    };
    s.observe(option);
    const { trade_seq, trade_id, timestamp, ...rest } = s.shift(option, 1);
    const { trade_seq: _s, trade_id: _i, timestamp: _t, ...recorded } = option;
    expect(rest).toEqual(recorded);
    expect(Object.keys(rest).sort()).toEqual(Object.keys(recorded).sort());
    expect([trade_seq, trade_id, timestamp]).toEqual([2, '101', 1_001]);
  });

  it('suffixes ids without a trailing number', () => {
    const s = new ReplayLoopShifter();
    const t = { ...base, trade_id: 'abc' };
    s.observe(t);
    expect(s.shift(t, 2).trade_id).toBe('abc~2');
  });
});
