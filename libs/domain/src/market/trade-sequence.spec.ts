import { TradeSequenceTracker } from './trade-sequence';

describe('TradeSequenceTracker', () => {
  it('accepts the first trade of an instrument whatever its seq, then expects the successor', () => {
    const t = new TradeSequenceTracker();
    expect(t.observe('BTC-PERPETUAL', 500)).toEqual({ kind: 'first' });
    expect(t.observe('BTC-PERPETUAL', 501)).toEqual({ kind: 'next' });
    expect(t.lastSeq('BTC-PERPETUAL')).toBe(501);
  });

  it('reports a gap with the missing range and moves past it', () => {
    const t = new TradeSequenceTracker();
    t.observe('ETH-PERPETUAL', 10);
    expect(t.observe('ETH-PERPETUAL', 14)).toEqual({ kind: 'gap', from: 11, to: 13, missing: 3 });
    expect(t.observe('ETH-PERPETUAL', 15)).toEqual({ kind: 'next' });
  });

  it('calls a repeated or older seq stale and keeps the watermark', () => {
    const t = new TradeSequenceTracker();
    t.observe('X', 10);
    t.observe('X', 11);
    expect(t.observe('X', 11)).toEqual({ kind: 'stale', last: 11 });
    expect(t.observe('X', 3)).toEqual({ kind: 'stale', last: 11 });
    expect(t.observe('X', 12)).toEqual({ kind: 'next' });
  });

  it('tracks instruments independently', () => {
    const t = new TradeSequenceTracker();
    t.observe('A', 1);
    t.observe('B', 100);
    expect(t.observe('A', 2)).toEqual({ kind: 'next' });
    expect(t.observe('B', 101)).toEqual({ kind: 'next' });
    expect(t.instruments).toBe(2);
  });
});

describe('TradeSequenceTracker.restore', () => {
  it('makes the next trade of a restored instrument a successor, a repeat stale and a jump a gap', () => {
    const t = new TradeSequenceTracker();
    t.restore('BTC-PERPETUAL', 41);
    expect(t.observe('BTC-PERPETUAL', 41)).toEqual({ kind: 'stale', last: 41 });
    expect(t.observe('BTC-PERPETUAL', 7)).toEqual({ kind: 'stale', last: 41 });
    expect(t.observe('BTC-PERPETUAL', 42)).toEqual({ kind: 'next' });
    t.restore('ETH-PERPETUAL', 10);
    expect(t.observe('ETH-PERPETUAL', 13)).toEqual({ kind: 'gap', from: 11, to: 12, missing: 2 });
  });

  it('never moves a watermark back, whatever order the restored trades come in', () => {
    const t = new TradeSequenceTracker();
    t.restore('X', 20);
    t.restore('X', 5);
    expect(t.lastSeq('X')).toBe(20);
    t.observe('Y', 100);
    t.restore('Y', 50);
    expect(t.observe('Y', 101)).toEqual({ kind: 'next' });
  });
});
