import { TradeStats } from './trade-stats';
import { InstrumentWindows, TradeWindowRules, WindowTrade, windowStartOf } from './trade-window';

const MIN = 60_000;
const at = (iso: string): number => Date.parse(iso);
const trade = (iso: string, price: number, amount = 1): WindowTrade => ({ timestamp: at(iso), price, amount });

/** Feeds trades of one instrument through the rules; returns the state, what closed and what was late. */
function feed(rules: TradeWindowRules, trades: readonly WindowTrade[], state?: InstrumentWindows) {
  let s = state;
  const closed: TradeStats[] = [];
  const late: WindowTrade[] = [];
  for (const t of trades) {
    s ??= rules.begin('BTC-PERPETUAL', t);
    if (!rules.add(s, t, closed)) late.push(t);
  }
  return { state: s!, closed, late };
}

const starts = (stats: readonly TradeStats[]): string[] => stats.map((s) => new Date(s.window_start).toISOString());

describe('trade windows', () => {
  const oneMinute = new TradeWindowRules({ windowMs: MIN, graceMs: 2_000, ewma: { mode: 'span', span: 3 } });

  describe('boundaries', () => {
    it('a window holds [start, end): the last millisecond is in, the end is the next window', () => {
      expect(windowStartOf(at('2026-03-01T10:00:59.999Z'), MIN)).toBe(at('2026-03-01T10:00:00Z'));
      expect(windowStartOf(at('2026-03-01T10:01:00.000Z'), MIN)).toBe(at('2026-03-01T10:01:00Z'));
      expect(windowStartOf(-1, MIN)).toBe(-MIN);
    });

    it('multi-minute windows are aligned to UTC, not to the first trade', () => {
      expect(windowStartOf(at('2026-03-01T10:04:59.999Z'), 5 * MIN)).toBe(at('2026-03-01T10:00:00Z'));
      expect(windowStartOf(at('2026-03-01T10:05:00.000Z'), 5 * MIN)).toBe(at('2026-03-01T10:05:00Z'));
      expect(windowStartOf(at('2026-03-01T10:59:00Z'), 15 * MIN)).toBe(at('2026-03-01T10:45:00Z'));
      expect(windowStartOf(at('2026-03-01T23:59:59.999Z'), 1_440 * MIN)).toBe(at('2026-03-01T00:00:00Z'));
      expect(windowStartOf(at('2024-02-29T00:00:00.000Z'), 1_440 * MIN)).toBe(at('2024-02-29T00:00:00Z'));

      const rules = new TradeWindowRules({ windowMs: 5 * MIN, graceMs: 0, ewma: { mode: 'alpha', alpha: 0.5 } });
      const { closed } = feed(rules, [trade('2026-03-01T10:03:10Z', 100), trade('2026-03-01T10:05:00Z', 101)]);
      expect(closed).toHaveLength(1);
      expect(closed[0]).toMatchObject({
        window_start: at('2026-03-01T10:00:00Z'),
        window_end: at('2026-03-01T10:05:00Z'),
        count: 1,
      });
    });

    it('closes a window exactly when stream time reaches end + grace, not a millisecond before', () => {
      const before = feed(oneMinute, [trade('2026-03-01T10:00:10Z', 100), trade('2026-03-01T10:01:01.999Z', 101)]);
      expect(before.closed).toEqual([]);

      const { closed } = feed(oneMinute, [trade('2026-03-01T10:01:02.000Z', 102)], before.state);
      expect(starts(closed)).toEqual(['2026-03-01T10:00:00.000Z']);
    });

    it('with grace 0 the first trade at the end closes the window', () => {
      const rules = new TradeWindowRules({ windowMs: MIN, graceMs: 0, ewma: { mode: 'alpha', alpha: 0.5 } });
      const { closed, state } = feed(rules, [trade('2026-03-01T10:00:59.999Z', 1), trade('2026-03-01T10:01:00Z', 2)]);
      expect(starts(closed)).toEqual(['2026-03-01T10:00:00.000Z']);
      expect(state.open.map((w) => w.start)).toEqual([at('2026-03-01T10:01:00Z')]);
    });
  });

  it('publishes count, volume, VWAP, OHLC and the EWMA at the window end', () => {
    const { closed } = feed(oneMinute, [
      trade('2026-03-01T10:00:01Z', 100, 10),
      trade('2026-03-01T10:00:20Z', 104, 30),
      trade('2026-03-01T10:00:40Z', 98, 20),
      trade('2026-03-01T10:00:59Z', 102, 40),
      trade('2026-03-01T10:01:05Z', 110, 1),
    ]);
    // VWAP = (100*10 + 104*30 + 98*20 + 102*40) / 100 = 10160 / 100.
    // EWMA, alpha 1/2: 100 -> 102 -> 100 -> 101 at the window's last trade (the 10:01:05 trade is after it).
    expect(closed).toEqual([
      {
        instrument: 'BTC-PERPETUAL',
        window_start: at('2026-03-01T10:00:00Z'),
        window_end: at('2026-03-01T10:01:00Z'),
        count: 4,
        volume: 100,
        vwap: 101.6,
        open: 100,
        high: 104,
        low: 98,
        close: 102,
        ewma: 101,
        ewma_params: { mode: 'span', alpha: 0.5, span: 3, half_life_ms: null },
        revision: 0,
        unrecovered_trades: 0,
      },
    ]);
  });

  it('publishes the windows without trades in between, carrying the EWMA, and carries it on into later windows', () => {
    const rules = new TradeWindowRules({ windowMs: MIN, graceMs: 0, ewma: { mode: 'alpha', alpha: 0.5 } });
    const { closed } = feed(rules, [
      trade('2026-03-01T10:00:10Z', 100),
      trade('2026-03-01T10:03:30Z', 120),
      trade('2026-03-01T10:04:00Z', 80),
    ]);
    expect(starts(closed)).toEqual([
      '2026-03-01T10:00:00.000Z',
      '2026-03-01T10:01:00.000Z',
      '2026-03-01T10:02:00.000Z',
      '2026-03-01T10:03:00.000Z',
    ]);
    expect(closed.map((s) => [s.count, s.volume, s.vwap, s.open, s.close, s.ewma])).toEqual([
      [1, 1, 100, 100, 100, 100],
      [0, 0, null, null, null, 100],
      [0, 0, null, null, null, 100],
      // Not restarted per window: 0.5 * 100 + 0.5 * 120.
      [1, 1, 120, 120, 120, 110],
    ]);
  });

  it('a trade within the grace lands in its still open window, in event-time order', () => {
    const { closed, late } = feed(oneMinute, [
      trade('2026-03-01T10:00:30Z', 100),
      trade('2026-03-01T10:01:01Z', 110),
      trade('2026-03-01T10:00:59.500Z', 90),
      trade('2026-03-01T10:00:20Z', 95),
      trade('2026-03-01T10:01:02Z', 111),
    ]);
    expect(late).toEqual([]);
    expect(closed).toHaveLength(1);
    // Open is the earliest trade (10:00:20), close the latest (10:00:59.5), whatever their arrival order.
    expect(closed[0]).toMatchObject({ count: 3, open: 95, close: 90, high: 100, low: 90 });
  });

  describe('late trades', () => {
    it('a trade behind a closed window is refused and changes nothing', () => {
      const { state } = feed(oneMinute, [trade('2026-03-01T10:00:30Z', 100), trade('2026-03-01T10:01:02Z', 101)]);
      const before = structuredClone(state);
      const closed: TradeStats[] = [];
      expect(oneMinute.add(state, trade('2026-03-01T10:00:59.999Z', 50), closed)).toBe(false);
      expect(oneMinute.add(state, trade('2026-03-01T09:00:00Z', 50), closed)).toBe(false);
      expect(closed).toEqual([]);
      expect(state).toEqual(before);
    });

    it('a trade of the window after the closed one is not late', () => {
      const { state } = feed(oneMinute, [trade('2026-03-01T10:00:30Z', 100), trade('2026-03-01T10:01:05Z', 101)]);
      expect(oneMinute.add(state, trade('2026-03-01T10:01:00.000Z', 99), [])).toBe(true);
      expect(state.open[0]).toMatchObject({ count: 2, open: 99 });
    });

    it('after a close by the idle check, a trade of that window is late', () => {
      const { state } = feed(oneMinute, [trade('2026-03-01T10:00:30Z', 100)]);
      const closed: TradeStats[] = [];
      expect(oneMinute.closeUntil(state, at('2026-03-01T10:01:00Z'), closed)).toBe(1);
      expect(oneMinute.add(state, trade('2026-03-01T10:00:45Z', 100), closed)).toBe(false);
      expect(closed).toHaveLength(1);
    });
  });

  it('closeUntil publishes every window ending by the given time, with or without trades, once', () => {
    const { state } = feed(oneMinute, [trade('2026-03-01T10:00:30Z', 100)]);
    const closed: TradeStats[] = [];
    expect(oneMinute.closeUntil(state, at('2026-03-01T10:02:59.999Z'), closed)).toBe(2);
    expect(oneMinute.closeUntil(state, at('2026-03-01T10:02:59.999Z'), closed)).toBe(0);
    expect(closed.map((s) => [s.window_start, s.count, s.ewma])).toEqual([
      [at('2026-03-01T10:00:00Z'), 1, 100],
      [at('2026-03-01T10:01:00Z'), 0, 100],
    ]);
    expect(state.nextWindowStart).toBe(at('2026-03-01T10:02:00Z'));
  });

  describe('revisions', () => {
    const revising = new TradeWindowRules({
      windowMs: MIN,
      graceMs: 2_000,
      ewma: { mode: 'span', span: 3 },
      revisionWindows: 2,
    });

    it('counts a late trade into its published window and publishes it again with the next revision', () => {
      const { state, closed } = feed(revising, [
        trade('2026-03-01T10:00:10Z', 100, 10),
        trade('2026-03-01T10:00:50Z', 104, 10),
        trade('2026-03-01T10:01:30Z', 90, 1),
      ]);
      expect(closed.map((s) => [s.count, s.revision])).toEqual([[2, 0]]);
      const revised: TradeStats[] = [];
      const running = state.ewma?.value;
      // Later than the window's end + grace (10:01:02), dated inside it: `add` refuses it, `revise` takes it.
      const lateOpen = trade('2026-03-01T10:00:05Z', 96, 20);
      expect(revising.add(state, lateOpen, revised)).toBe(false);
      expect(revising.revise(state, lateOpen, revised)).toBe(true);
      expect(revising.revise(state, trade('2026-03-01T10:00:59Z', 110, 10), revised)).toBe(true);
      expect(revised).toEqual([
        { ...closed[0], count: 3, volume: 40, vwap: (1_000 + 1_040 + 1_920) / 40, open: 96, low: 96, revision: 1 },
        {
          ...closed[0],
          count: 4,
          volume: 50,
          vwap: (1_000 + 1_040 + 1_920 + 1_100) / 50,
          open: 96,
          low: 96,
          high: 110,
          close: 110,
          revision: 2,
        },
      ]);
      // The EWMA stays as first published, and the running one did not take the late trades.
      expect(revised.map((s) => s.ewma)).toEqual([closed[0].ewma, closed[0].ewma]);
      expect(state.ewma?.value).toBe(running);
      expect(running).toBeDefined();
    });

    it('revises an empty published window into one with its first trade, keeping only the last windows', () => {
      const { state, closed } = feed(revising, [trade('2026-03-01T10:00:10Z', 100)]);
      revising.closeUntil(state, at('2026-03-01T10:04:00Z'), closed);
      expect(starts(closed)).toEqual([
        '2026-03-01T10:00:00.000Z',
        '2026-03-01T10:01:00.000Z',
        '2026-03-01T10:02:00.000Z',
        '2026-03-01T10:03:00.000Z',
      ]);
      expect(state.closed.map((c) => new Date(c.start).toISOString())).toEqual([
        '2026-03-01T10:02:00.000Z',
        '2026-03-01T10:03:00.000Z',
      ]);
      const revised: TradeStats[] = [];
      expect(revising.revise(state, trade('2026-03-01T10:01:30Z', 99), revised)).toBe(false); // not kept
      expect(revising.revise(state, trade('2026-03-01T10:02:30Z', 99, 2), revised)).toBe(true);
      expect(revised).toEqual([
        {
          ...closed[2],
          count: 1,
          volume: 2,
          vwap: 99,
          open: 99,
          high: 99,
          low: 99,
          close: 99,
          ewma: 100,
          revision: 1,
        },
      ]);
    });

    it("carries unrecovered trades into a window's publication, and revises a published empty one for them", () => {
      const { state, closed } = feed(revising, [trade('2026-03-01T10:00:10Z', 100)]);
      const revised: TradeStats[] = [];
      // Two gaps noticed in the open 10:00 window, one of them found again in part; one at 10:02, still ahead.
      expect(revising.unrecovered(state, at('2026-03-01T10:00:10Z'), 3, revised)).toBe('open');
      expect(revising.unrecovered(state, at('2026-03-01T10:02:30Z'), 1, revised)).toBe('open');
      expect(revising.unrecovered(state, at('2026-03-01T10:00:10Z'), -1, revised)).toBe('open');
      revising.closeUntil(state, at('2026-03-01T10:03:00Z'), closed);
      expect(closed.map((c) => [new Date(c.window_start).toISOString(), c.count, c.unrecovered_trades])).toEqual([
        ['2026-03-01T10:00:00.000Z', 1, 2],
        ['2026-03-01T10:01:00.000Z', 0, 0],
        ['2026-03-01T10:02:00.000Z', 0, 1],
      ]);
      expect(state.unrecovered).toEqual([]);
      expect(revised).toEqual([]);
      // The empty 10:01 window (kept) learns of 4 lost trades: a revision of an empty window.
      expect(revising.unrecovered(state, at('2026-03-01T10:01:59Z'), 4, revised)).toBe('revised');
      expect(revised).toEqual([{ ...closed[1], revision: 1, unrecovered_trades: 4 }]);
      // 10:00 is no longer kept (2 windows): too old.
      expect(revising.unrecovered(state, at('2026-03-01T10:00:10Z'), 1, revised)).toBe('too-old');
      expect(revised).toHaveLength(1);
    });

    it('keeps nothing without revision windows: a late trade is refused', () => {
      const { state, late } = feed(oneMinute, [
        trade('2026-03-01T10:00:10Z', 100),
        trade('2026-03-01T10:01:30Z', 90),
        trade('2026-03-01T10:00:20Z', 95),
      ]);
      expect(late).toHaveLength(1);
      expect(state.closed).toEqual([]);
      expect(oneMinute.revise(state, late[0], [])).toBe(false);
    });
  });

  it('refuses options no window can use', () => {
    const ewma = { mode: 'span', span: 20 } as const;
    expect(() => new TradeWindowRules({ windowMs: 0, graceMs: 0, ewma })).toThrow(/window length/);
    expect(() => new TradeWindowRules({ windowMs: MIN, graceMs: -1, ewma })).toThrow(/grace/);
    expect(() => new TradeWindowRules({ windowMs: MIN, graceMs: 0, ewma, revisionWindows: 1.5 })).toThrow(/revision/);
    expect(() => new TradeWindowRules({ windowMs: MIN, graceMs: 0, ewma: { mode: 'alpha', alpha: 2 } })).toThrow(
      /alpha/,
    );
  });
});
