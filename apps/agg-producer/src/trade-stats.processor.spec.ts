import { DeribitTrade, TradeStats, TradeWindowRules } from '@lib/domain';
import { ConsumedBatch } from '@lib/kafka-avro/messaging';
import { tradeGapMarker, tradeWatermark } from '@lib/kafka-avro/topics';
import { AggStateRecord } from './state/agg-state.record';
import { TradeStatsProcessor, UnitOfWork } from './trade-stats.processor';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');
const TOPIC = 'deribit-trades';

let tradeId = 0;
function trade(instrument: string, offsetMs: number, price: number, amount = 10): DeribitTrade {
  tradeId += 1;
  return {
    trade_seq: tradeId,
    trade_id: `t${tradeId}`,
    timestamp: T0 + offsetMs,
    tick_direction: 0,
    price,
    mark_price: price,
    index_price: price,
    instrument_name: instrument,
    direction: 'buy',
    amount,
  };
}

/** A batch of one partition starting at `from`, with `lag` messages left behind it. */
function batch(partition: number, from: number, trades: readonly DeribitTrade[], lag = 0): ConsumedBatch<DeribitTrade> {
  return {
    topic: TOPIC,
    partition,
    messages: trades.map((value, i) => ({
      topic: TOPIC,
      partition,
      offset: String(from + i),
      key: value.instrument_name,
      value,
      headers: {},
      timestamp: value.timestamp,
    })),
    nextOffset: String(from + trades.length),
    lag,
  };
}

/** A batch of source watermarks only (markers at `from`, `from + 1`...). */
function watermarks(partition: number, from: number, marks: readonly [string, number][]): ConsumedBatch<DeribitTrade> {
  return {
    ...batch(partition, from, []),
    markers: marks.map(([instrument, offsetMs], i) => ({
      ...tradeWatermark(instrument, T0 + offsetMs),
      offset: String(from + i),
    })),
    nextOffset: String(from + marks.length),
  };
}

const rules = () => new TradeWindowRules({ windowMs: MIN, graceMs: 1_000, ewma: { mode: 'span', span: 3 } });
const keeping = (revisionWindows: number) =>
  new TradeWindowRules({ windowMs: MIN, graceMs: 1_000, ewma: { mode: 'span', span: 3 }, revisionWindows });
const summary = (stats: readonly TradeStats[]) =>
  stats.map(
    (s) => `${s.instrument} ${new Date(s.window_start).toISOString().slice(11, 16)} n=${s.count} ewma=${s.ewma}`,
  );

describe('TradeStatsProcessor', () => {
  it('keeps instruments apart and turns what a batch changed into one unit of work', () => {
    const p = new TradeStatsProcessor(rules());
    const outcome = p.process(
      batch(0, 0, [
        trade('BTC-PERPETUAL', 1_000, 100),
        trade('ETH-PERPETUAL', 2_000, 10),
        trade('BTC-PERPETUAL', 30_000, 102),
        trade('BTC-PERPETUAL', MIN + 1_000, 104),
      ]),
      T0 + MIN + 1_000,
    );
    expect(outcome).toEqual({ trades: 4, late: [], revised: 0, duplicates: 0, unplacedGaps: [] });

    const work = p.takeWork()!;
    // BTC's stream time reached 10:01:01 = end + grace; ETH's own stream time (10:00:02) closes nothing.
    expect(summary(work.stats)).toEqual(['BTC-PERPETUAL 10:00 n=2 ewma=101']);
    expect(work.published).toEqual({ 'event-time': 1, watermark: 0, idle: 0, revision: 0 });
    expect(work.offsets).toEqual([{ topic: TOPIC, partition: 0, offset: '4' }]);
    expect(work.state.map((r) => r.key).sort()).toEqual([
      'instrument/BTC-PERPETUAL',
      'instrument/ETH-PERPETUAL',
      `partition/${TOPIC}/0`,
    ]);
    const btc = work.state.find((r) => r.key === 'instrument/BTC-PERPETUAL')!.instrument!;
    expect(btc).toMatchObject({ partition: 0, next_window_start: T0 + MIN, stream_time: T0 + MIN + 1_000 });
    expect(btc.open_windows).toEqual([expect.objectContaining({ start: T0 + MIN, count: 1, close: 104 })]);

    expect(p.takeWork()).toBeUndefined();
  });

  it('reports a late trade with its topic, partition and offset, and still commits its offset', () => {
    const p = new TradeStatsProcessor(rules());
    p.process(batch(2, 40, [trade('BTC-PERPETUAL', 1_000, 100), trade('BTC-PERPETUAL', MIN + 1_000, 101)]), 0);
    p.takeWork();
    const late = trade('BTC-PERPETUAL', 59_000, 50);
    const outcome = p.process(batch(2, 42, [late]), 0);
    expect(outcome.late).toEqual([{ trade: late, topic: TOPIC, partition: 2, offset: '42', openFrom: T0 + MIN }]);
    const work = p.takeWork()!;
    expect(work.stats).toEqual([]);
    expect(work.offsets).toEqual([{ topic: TOPIC, partition: 2, offset: '43' }]);
    // The instrument did not change: only the partition's progress is written.
    expect(work.state.map((r) => r.key)).toEqual([`partition/${TOPIC}/2`]);
  });

  it('counts a trade published twice once, within a batch, across batches and across a restore', () => {
    const trades = [
      trade('BTC-PERPETUAL', 1_000, 100),
      trade('BTC-PERPETUAL', 2_000, 102),
      trade('ETH-PERPETUAL', 3_000, 10),
      trade('BTC-PERPETUAL', 30_000, 104),
    ];
    const once = new TradeStatsProcessor(rules());
    once.process(batch(0, 0, [...trades, trade('BTC-PERPETUAL', MIN + 2_000, 1)]), 0);
    const expected = summary(once.takeWork()!.stats);

    const first = new TradeStatsProcessor(rules());
    expect(first.process(batch(0, 0, [trades[0], trades[1], trades[0]]), 0).duplicates).toBe(1);
    expect(first.process(batch(0, 3, [trades[1], trades[2]]), 0).duplicates).toBe(1);
    const changelog = first.takeWork()!.state;
    // A new process, from the changelog: the duplicate of a trade counted before the restart is known.
    const second = new TradeStatsProcessor(rules());
    second.restore(changelog, [0], 0);
    const closing = trade('BTC-PERPETUAL', MIN + 2_000, 1);
    const outcome = second.process(batch(0, 5, [trades[0], trades[2], trades[3], trades[3], closing]), 0);
    expect(outcome).toMatchObject({ trades: 5, duplicates: 3, late: [] });
    // The same statistics as each trade once (the closing trades differ only in trade_seq).
    expect(summary(second.takeWork()!.stats)).toEqual(expected);
    expect(expected).toEqual(['BTC-PERPETUAL 10:00 n=3 ewma=102.5']);
  });

  it('restored from its changelog, it continues exactly as if it had not stopped', () => {
    const trades = [
      trade('BTC-PERPETUAL', 1_000, 100),
      trade('ETH-PERPETUAL', 5_000, 10),
      trade('BTC-PERPETUAL', 50_000, 103),
      trade('BTC-PERPETUAL', MIN + 500, 99),
      trade('ETH-PERPETUAL', MIN + 5_000, 11),
      trade('BTC-PERPETUAL', 2 * MIN + 1_500, 98),
      trade('ETH-PERPETUAL', 3 * MIN + 2_000, 12),
      trade('BTC-PERPETUAL', 3 * MIN + 2_000, 97),
    ];
    const uninterrupted = new TradeStatsProcessor(rules());
    uninterrupted.process(batch(0, 0, trades), 0);
    const expected = uninterrupted.takeWork()!.stats;

    const changelog: AggStateRecord[] = [];
    const first = new TradeStatsProcessor(rules());
    const committed: TradeStats[] = [];
    for (let i = 0; i < 4; i++) {
      first.process(batch(0, i, [trades[i]]), 0);
      const work: UnitOfWork = first.takeWork()!;
      committed.push(...work.stats);
      changelog.push(...work.state);
    }
    // Processed but never committed: lost with the crash, and redone from offset 4 after the restart.
    first.process(batch(0, 4, [trades[4]]), 0);

    const second = new TradeStatsProcessor(rules());
    expect(second.restore(changelog, [0, 1], 0)).toEqual(new Map([[0, '4']]));
    second.process(batch(0, 4, trades.slice(4)), 0);
    committed.push(...second.takeWork()!.stats);

    expect(committed).toEqual(expected);
    // ETH's 10:01:05 trade closes its 10:00 window; BTC's 10:01:00.5 is still within BTC's grace.
    expect(summary(committed)).toEqual([
      'ETH-PERPETUAL 10:00 n=1 ewma=10',
      'BTC-PERPETUAL 10:00 n=2 ewma=101.5',
      'BTC-PERPETUAL 10:01 n=1 ewma=100.25',
      'ETH-PERPETUAL 10:01 n=1 ewma=10.5',
      'ETH-PERPETUAL 10:02 n=0 ewma=10.5',
      'BTC-PERPETUAL 10:02 n=1 ewma=99.125',
    ]);
  });

  it('restores only the assigned partitions', () => {
    const p = new TradeStatsProcessor(rules());
    p.process(batch(0, 0, [trade('BTC-PERPETUAL', 1_000, 100)]), 0);
    p.process(batch(1, 0, [trade('ETH-PERPETUAL', 1_000, 10)]), 0);
    const changelog = p.takeWork()!.state;

    const q = new TradeStatsProcessor(rules());
    expect(q.restore(changelog, [1], 0)).toEqual(new Map([[1, '1']]));
    expect(q.instrumentCount).toBe(1);
    q.process(batch(1, 1, [trade('ETH-PERPETUAL', MIN + 2_000, 11)]), 0);
    expect(summary(q.takeWork()!.stats)).toEqual(['ETH-PERPETUAL 10:00 n=1 ewma=10']);
  });

  describe('idle check', () => {
    it("closes a quiet instrument's windows once its partition's event clock passes end + grace", () => {
      const p = new TradeStatsProcessor(rules());
      const readAt = 5_000_000;
      // BTC trades at 10:00:40; ETH, on the same partition, moves the partition's event time to 10:00:55.
      p.process(batch(0, 0, [trade('BTC-PERPETUAL', 40_000, 100), trade('ETH-PERPETUAL', 55_000, 10)]), readAt);
      p.takeWork();

      // Event clock = 10:00:55 + wall time since: 10:01:00.999 at +5.999 s, one ms short of end + grace.
      expect(p.partitionClock(0, readAt + 5_999)).toBe(T0 + MIN + 999);
      expect(p.closeIdle(readAt + 5_999)).toBe(0);
      expect(p.closeIdle(readAt + 6_000)).toBe(2);
      const work = p.takeWork()!;
      expect(summary(work.stats)).toEqual(['BTC-PERPETUAL 10:00 n=1 ewma=100', 'ETH-PERPETUAL 10:00 n=1 ewma=10']);
      expect(work.published).toEqual({ 'event-time': 0, watermark: 0, idle: 2, revision: 0 });

      // A minute later the empty windows follow, EWMA carried.
      expect(p.closeIdle(readAt + 66_000)).toBe(2);
      expect(summary(p.takeWork()!.stats)).toEqual([
        'BTC-PERPETUAL 10:01 n=0 ewma=100',
        'ETH-PERPETUAL 10:01 n=0 ewma=10',
      ]);
    });

    it('does not let a partition read further ahead close windows of another partition', () => {
      const p = new TradeStatsProcessor(rules());
      // A fast replay: ETH's partition has been read up to 10:05 while the option's shows 10:00:03 so far.
      p.process(batch(0, 0, [trade('BTC-27NOV26-100000-C', 3_000, 0.01)]), 0);
      p.process(batch(1, 0, [trade('ETH-PERPETUAL', 5 * MIN, 10)]), 0);
      expect(p.closeIdle(0)).toBe(0);
      // The option's next trade, at 10:00:59, is still in its window.
      expect(p.process(batch(0, 1, [trade('BTC-27NOV26-100000-C', 59_000, 0.02)]), 0).late).toEqual([]);
    });

    it('after a restore, a partition resumes its own event clock at the wall time of the restore', () => {
      const p = new TradeStatsProcessor(rules());
      p.process(batch(0, 0, [trade('BTC-PERPETUAL', 40_000, 100)], 3), 0);
      const restored = new TradeStatsProcessor(rules());
      restored.restore(p.takeWork()!.state, [0], 9_000_000);

      expect(restored.partitionClock(0, 9_000_000)).toBe(T0 + 40_000);
      expect(restored.closeIdle(9_000_000 + 20_999)).toBe(0);
      expect(restored.closeIdle(9_000_000 + 21_000)).toBe(1);
      expect(summary(restored.takeWork()!.stats)).toEqual(['BTC-PERPETUAL 10:00 n=1 ewma=100']);
    });

    it("closes a quiet instrument's windows on its source watermark, and only on it once there is one", () => {
      const p = new TradeStatsProcessor(rules());
      p.process(batch(0, 0, [trade('BTC-PERPETUAL', 40_000, 100), trade('ETH-PERPETUAL', 55_000, 10)]), 0);
      p.process(watermarks(0, 2, [['BTC-PERPETUAL', 58_000]]), 0);
      p.takeWork();
      // The source went away after 10:00:58: 10 s of wall time close nothing of BTC; ETH, without a
      // watermark, closes on the partition's clock (10:00:55 + 10 s).
      expect(p.closeIdle(10_000)).toBe(1);
      expect(summary(p.takeWork()!.stats)).toEqual(['ETH-PERPETUAL 10:00 n=1 ewma=10']);

      // Back, and what it missed is in: a trade of 10:00:59 is still counted, in its window.
      expect(p.process(batch(0, 3, [trade('BTC-PERPETUAL', 59_000, 101)]), 10_000).late).toEqual([]);
      p.process(watermarks(0, 4, [['BTC-PERPETUAL', MIN + 999]]), 10_000);
      expect(p.closeIdle(10_000)).toBe(0); // end + grace not passed yet
      p.process(
        watermarks(0, 5, [
          ['BTC-PERPETUAL', MIN + 1_000],
          ['NEVER-SEEN', MIN + 1_000],
        ]),
        10_000,
      );
      expect(p.closeIdle(10_000)).toBe(1);
      const work = p.takeWork()!;
      expect(summary(work.stats)).toEqual(['BTC-PERPETUAL 10:00 n=2 ewma=100.5']);
      expect(work.published).toEqual({ 'event-time': 0, watermark: 1, idle: 0, revision: 0 });
      expect(work.offsets).toEqual([{ topic: TOPIC, partition: 0, offset: '7' }]);
    });

    it('keeps the watermark across a restore, and never moves it back', () => {
      const p = new TradeStatsProcessor(rules());
      p.process(batch(0, 0, [trade('BTC-PERPETUAL', 40_000, 100)]), 0);
      p.process(watermarks(0, 1, [['BTC-PERPETUAL', 50_000]]), 0);
      p.process(watermarks(0, 2, [['BTC-PERPETUAL', 45_000]]), 0); // an older one changes nothing
      p.process(batch(0, 3, [trade('BTC-PERPETUAL', 41_000, 100)]), 0); // the instrument's state is written
      const restored = new TradeStatsProcessor(rules());
      restored.restore(p.takeWork()!.state, [0], 0);
      expect(restored.closeIdle(3_600_000)).toBe(0);
      restored.process(watermarks(0, 4, [['BTC-PERPETUAL', MIN + 1_000]]), 3_600_000);
      expect(restored.closeIdle(3_600_000)).toBe(1);
    });

    it('leaves a partition with unread trades alone', () => {
      const p = new TradeStatsProcessor(rules());
      p.process(batch(0, 0, [trade('BTC-PERPETUAL', 40_000, 100)], 5), 0);
      expect(p.closeIdle(10 * MIN)).toBe(0);
      p.process(batch(0, 1, [trade('BTC-PERPETUAL', 41_000, 100)], 0), 10 * MIN);
      expect(p.closeIdle(10 * MIN + 21_000)).toBe(1);
    });
  });

  describe("the source's unrecovered trades (gap markers)", () => {
    /** Trades at `from`, `from + 1`... with gap markers among them: [offset, instrument, time offset, count]. */
    function withGaps(
      from: number,
      trades: readonly DeribitTrade[],
      gaps: readonly [number, string, number, number][],
    ): ConsumedBatch<DeribitTrade> {
      const markers = gaps.map(([offset, instrument, offsetMs, count]) => ({
        ...tradeGapMarker(instrument, { time: T0 + offsetMs, count }),
        offset: String(offset),
      }));
      // The trades take the offsets the markers leave free.
      const taken = new Set(gaps.map(([offset]) => offset));
      const offsets: number[] = [];
      for (let o = from; offsets.length < trades.length; o++) if (!taken.has(o)) offsets.push(o);
      const b = batch(0, from, trades);
      return {
        ...b,
        messages: b.messages.map((m, i) => ({ ...m, offset: String(offsets[i]) })),
        markers,
        nextOffset: String(Math.max(...offsets, ...gaps.map(([o]) => o)) + 1),
      };
    }
    const unrecovered = (stats: readonly TradeStats[]) =>
      stats.map(
        (s) =>
          `${new Date(s.window_start).toISOString().slice(11, 16)} r${s.revision} n=${s.count} lost=${s.unrecovered_trades}`,
      );

    it('counts them into the window of the trade that revealed the gap, before a later trade of the batch closes it', () => {
      const p = new TradeStatsProcessor(keeping(5));
      // offset 0: 10:00:10, 1: the gap revealed by it (3 lost), 2: 10:01:05 closes 10:00.
      const outcome = p.process(
        withGaps(
          0,
          [trade('BTC-PERPETUAL', 10_000, 100), trade('BTC-PERPETUAL', MIN + 5_000, 101)],
          [[1, 'BTC-PERPETUAL', 10_000, 3]],
        ),
        0,
      );
      expect(outcome.unplacedGaps).toEqual([]);
      const work = p.takeWork()!;
      expect(unrecovered(work.stats)).toEqual(['10:00 r0 n=1 lost=3']);
      expect(work.published).toEqual({ 'event-time': 1, watermark: 0, idle: 0, revision: 0 });
    });

    it('revises a published window when some come back later, and says so for one past the kept windows', () => {
      const p = new TradeStatsProcessor(keeping(2));
      p.process(withGaps(0, [trade('BTC-PERPETUAL', 10_000, 100)], [[1, 'BTC-PERPETUAL', 10_000, 3]]), 0);
      p.process(batch(0, 2, [trade('BTC-PERPETUAL', MIN + 5_000, 101)]), 0);
      p.takeWork();
      // 2 of the 3 recovered (their trades revise their own windows; here: none in the batch).
      p.process(withGaps(3, [], [[3, 'BTC-PERPETUAL', 10_000, -2]]), 0);
      const work = p.takeWork()!;
      expect(unrecovered(work.stats)).toEqual(['10:00 r1 n=1 lost=1']);
      expect(work.published.revision).toBe(1);
      // Recovered more than was counted (a marker repeated): never below 0.
      p.process(withGaps(4, [], [[4, 'BTC-PERPETUAL', 10_000, -5]]), 0);
      expect(unrecovered(p.takeWork()!.stats)).toEqual(['10:00 r2 n=1 lost=0']);
      // Three windows on, 10:00 is no longer kept: reported, not placed.
      p.process(batch(0, 5, [trade('BTC-PERPETUAL', 3 * MIN + 5_000, 101)]), 0);
      const late = p.process(
        withGaps(
          6,
          [],
          [
            [6, 'BTC-PERPETUAL', 10_000, 4],
            [7, 'NEVER-SEEN', 10_000, 1],
          ],
        ),
        0,
      );
      expect(late.unplacedGaps).toEqual([
        { instrument: 'BTC-PERPETUAL', time: T0 + 10_000, count: 4 },
        { instrument: 'NEVER-SEEN', time: T0 + 10_000, count: 1 },
      ]);
    });

    it('keeps the counts of windows not yet published, and of the kept ones, across a restore', () => {
      const p = new TradeStatsProcessor(keeping(5));
      p.process(
        withGaps(
          0,
          [trade('BTC-PERPETUAL', 10_000, 100), trade('BTC-PERPETUAL', MIN + 5_000, 101)],
          [
            [1, 'BTC-PERPETUAL', 10_000, 3],
            [3, 'BTC-PERPETUAL', MIN + 5_000, 2],
          ],
        ),
        0,
      );
      const restored = new TradeStatsProcessor(keeping(5));
      restored.restore(p.takeWork()!.state, [0], 0);
      restored.process(batch(0, 4, [trade('BTC-PERPETUAL', 2 * MIN + 5_000, 102)]), 0);
      restored.process(withGaps(5, [], [[5, 'BTC-PERPETUAL', 10_000, -1]]), 0);
      expect(unrecovered(restored.takeWork()!.stats)).toEqual(['10:01 r0 n=1 lost=2', '10:00 r1 n=1 lost=2']);
    });
  });

  it('forgets revoked partitions with their unpublished windows', () => {
    const p = new TradeStatsProcessor(rules());
    p.process(batch(0, 0, [trade('BTC-PERPETUAL', 1_000, 100), trade('BTC-PERPETUAL', MIN + 2_000, 100)]), 0);
    p.process(batch(1, 0, [trade('ETH-PERPETUAL', 1_000, 10)]), 0);
    p.drop([0]);
    const work = p.takeWork()!;
    expect(work.stats).toEqual([]);
    expect(work.offsets.map((o) => o.partition)).toEqual([1]);
    expect(p.instrumentCount).toBe(1);
    p.reset();
    expect(p.instrumentCount).toBe(0);
    expect(p.takeWork()).toBeUndefined();
  });
});
