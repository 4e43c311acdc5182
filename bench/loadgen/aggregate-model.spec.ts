import { AggregateModel, AggregatesQuery, AggregateRef } from './aggregate-model';
import { Rng } from './prng';
import { Action, GeneratedTag, INT32_MAX, INT32_MIN } from './tag-stream';

const T0 = Date.UTC(2022, 2, 1);
const MIN = 60_000;
const names = { origins: ['o0', 'o 1&x'], brands: ['b0', 'b1'], categories: ['c0', 'c1'] };
let seq = 0;

function tag(eventMs: number, action: Action, o: number, b: number, c: number, price: number): GeneratedTag {
  return {
    seq: seq++,
    eventMs,
    cookie: 'k',
    action,
    originIdx: o,
    brandIdx: b,
    categoryIdx: c,
    price,
    // The aggregate model reads only the indexes and the price.
    body: undefined as never,
    json: '',
  };
}

function model(latencyMs = 5_000): AggregateModel {
  return new AggregateModel(names, T0, { latencyMs, retentionHours: 24, keepMinutes: 180 });
}

function ack(m: AggregateModel, t: GeneratedTag, at = 0): AggregateRef {
  const ref = m.sent(t);
  m.acked(ref, at);
  return ref;
}

const q = (over: Partial<AggregatesQuery>): AggregatesQuery => ({
  fromMs: T0,
  toMs: T0 + 3 * MIN,
  action: 'VIEW',
  aggregates: ['COUNT', 'SUM_PRICE'],
  filters: {},
  ...over,
});

describe('AggregateModel.answer', () => {
  it('gives one row per minute bucket in time order, empty buckets as "0", every value a string', () => {
    const m = model();
    ack(m, tag(T0 + 5_000, 'VIEW', 0, 0, 0, 10));
    ack(m, tag(T0 + 59_999, 'VIEW', 1, 0, 0, 5));
    ack(m, tag(T0 + 2 * MIN, 'VIEW', 0, 1, 1, 7));
    ack(m, tag(T0 + 2 * MIN + 1, 'BUY', 0, 1, 1, 1_000));
    expect(m.answer(q({}))).toEqual({
      columns: ['1m_bucket', 'action', 'count', 'sum_price'],
      rows: [
        ['2022-03-01T00:00:00', 'VIEW', '2', '15'],
        ['2022-03-01T00:01:00', 'VIEW', '0', '0'],
        ['2022-03-01T00:02:00', 'VIEW', '1', '7'],
      ],
    });
  });

  it('puts filter columns in the contract’s order whatever the query’s, aggregates in the query’s order', () => {
    const m = model();
    ack(m, tag(T0, 'BUY', 1, 0, 1, 3));
    ack(m, tag(T0 + 1, 'BUY', 1, 1, 1, 4));
    const a = m.answer(
      q({ toMs: T0 + MIN, action: 'BUY', aggregates: ['SUM_PRICE', 'COUNT'], filters: { category_id: 1, origin: 1 } }),
    );
    expect(a).toEqual({
      columns: ['1m_bucket', 'action', 'origin', 'category_id', 'sum_price', 'count'],
      rows: [['2022-03-01T00:00:00', 'BUY', 'o 1&x', 'c1', '7', '2']],
    });
    expect(
      m.answer(q({ toMs: T0 + MIN, action: 'BUY', aggregates: ['COUNT'], filters: { brand_id: 1 } })).rows,
    ).toEqual([['2022-03-01T00:00:00', 'BUY', 'b1', '1']]);
  });

  it('sums extreme int32 prices exactly, negatives included', () => {
    const m = model();
    for (let i = 0; i < 1_000; i++) ack(m, tag(T0 + i, 'VIEW', 0, 0, 0, INT32_MAX));
    ack(m, tag(T0 + 1_000, 'VIEW', 0, 0, 0, INT32_MIN));
    const [row] = m.answer(q({ toMs: T0 + MIN, aggregates: ['SUM_PRICE'] })).rows;
    expect(row).toEqual(['2022-03-01T00:00:00', 'VIEW', String(1_000n * 2_147_483_647n - 2_147_483_648n)]);
  });

  it('counts only acknowledged tags; a rejected one never, an uncertain one is reported as such', () => {
    const m = model();
    ack(m, tag(T0, 'VIEW', 0, 0, 0, 1));
    m.rejected(m.sent(tag(T0 + 1, 'VIEW', 0, 0, 0, 1)));
    m.uncertain(m.sent(tag(T0 + 2, 'VIEW', 1, 1, 1, 1)));
    expect(m.answer(q({ toMs: T0 + MIN })).rows[0]).toEqual(['2022-03-01T00:00:00', 'VIEW', '1', '1']);
    expect(m.uncertainMatches(q({ toMs: T0 + MIN }))).toBe(1);
    expect(m.uncertainMatches(q({ toMs: T0 + MIN, filters: { origin: 0 } }))).toBe(0);
    expect(m.uncertainMatches(q({ toMs: T0 + MIN, action: 'BUY' }))).toBe(0);
  });
});

describe('AggregateModel.settledFrontier', () => {
  it('closes a minute only when the stream is past it (less lateness), all its tags are answered, the last 204 latency ago', () => {
    const m = model(5_000);
    const ref = m.sent(tag(T0 + 30_000, 'VIEW', 0, 0, 0, 1));
    // Stream still inside minute 0 (plus the 999 ms a second-precision tag may lag).
    expect(m.settledFrontier(100_000, T0 + MIN + 998)).toBe(T0);
    // Past it, but the tag is in flight.
    expect(m.settledFrontier(100_000, T0 + MIN + 999)).toBe(T0);
    m.acked(ref, 100_000);
    expect(m.settledFrontier(104_999, T0 + MIN + 999)).toBe(T0);
    expect(m.settledFrontier(105_000, T0 + MIN + 999)).toBe(T0 + MIN);
    // Empty minutes settle as soon as the stream is past them.
    expect(m.settledFrontier(105_000, T0 + 5 * MIN + 999)).toBe(T0 + 5 * MIN);
  });
});

describe('AggregateModel.plan', () => {
  it('asks 1 to 10 whole settled minutes, with every filter subset and both aggregate orders, parameters that read back', () => {
    const m = model(0);
    const r = new Rng(4);
    for (let i = 0; i < 30_000; i++)
      ack(m, tag(T0 + i * 20, r.chance(0.3) ? 'BUY' : 'VIEW', r.int(2), r.int(2), r.int(2), r.between(-5, 100)));
    const frontierStream = T0 + 30_000 * 20;
    const subsets = new Set<string>();
    const orders = new Set<string>();
    let nonZero = 0;
    for (let i = 0; i < 400; i++) {
      const p = m.plan(r, 1e9, frontierStream);
      if (typeof p === 'string') throw new Error(p);
      const { query } = p;
      expect(query.fromMs % MIN).toBe(0);
      expect(query.toMs % MIN).toBe(0);
      expect(query.toMs - query.fromMs).toBeGreaterThanOrEqual(MIN);
      expect(query.toMs - query.fromMs).toBeLessThanOrEqual(10 * MIN);
      expect(query.toMs).toBeLessThanOrEqual(m.settledFrontier(1e9, frontierStream));
      subsets.add(Object.keys(query.filters).sort().join(','));
      orders.add(query.aggregates.join(','));
      // The path carries exactly this query.
      const params = new URL(`http://x${p.path}`).searchParams;
      expect(params.getAll('aggregates')).toEqual(query.aggregates);
      expect(params.get('action')).toBe(query.action);
      expect(params.get('origin')).toBe(
        query.filters.origin === undefined ? null : names.origins[query.filters.origin],
      );
      const [from, to] = (params.get('time_range') as string).split('_');
      expect(Date.parse(`${from}Z`)).toBe(query.fromMs);
      expect(Date.parse(`${to}Z`)).toBe(query.toMs);
      expect(p.expected.rows).toHaveLength((query.toMs - query.fromMs) / MIN);
      if (p.expected.rows.some((row) => row[row.length - 1] !== '0')) nonZero++;
    }
    expect(subsets.size).toBe(8);
    expect(orders).toEqual(new Set(['COUNT', 'SUM_PRICE', 'COUNT,SUM_PRICE', 'SUM_PRICE,COUNT']));
    expect(nonZero).toBeGreaterThan(200);
  });

  it('does not ask about a bucket holding an uncertain tag that matches, and says so', () => {
    const m = model(0);
    m.uncertain(m.sent(tag(T0, 'VIEW', 0, 0, 0, 1)));
    m.uncertain(m.sent(tag(T0 + 1, 'BUY', 0, 0, 0, 1)));
    const r = new Rng(5);
    const outcomes = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const p = m.plan(r, 1e9, T0 + 3 * MIN);
      if (typeof p === 'string') outcomes.add(p);
      else if (p.query.fromMs <= T0 && p.query.toMs > T0) expect(m.uncertainMatches(p.query)).toBe(0);
    }
    expect(outcomes).toEqual(new Set(['uncertain bucket']));
  });
});
