import { ModelTag, ProfileAnswer, ProfileModel, ProfilePlan } from './profile-model';
import { Rng } from './prng';
import { Action, GeneratedTag, TagJson } from './tag-stream';
import { formatTagTimeMillis, parseUtc } from './utc';

const T0 = Date.UTC(2022, 2, 1);
let seq = 0;

function tag(cookie: string, action: Action, eventMs: number): GeneratedTag {
  const body: TagJson = {
    time: formatTagTimeMillis(eventMs),
    cookie,
    country: 'PL',
    device: 'PC',
    action,
    origin: 'o',
    product_info: { product_id: seq, brand_id: 'b', category_id: 'c', price: 1 },
  };
  return {
    seq: seq++,
    eventMs,
    cookie,
    action,
    originIdx: 0,
    brandIdx: 0,
    categoryIdx: 0,
    price: 1,
    body,
    json: JSON.stringify(body),
  };
}

function model(): ProfileModel {
  return new ProfileModel({ capacity: 200, latencyMs: 1_000, margin: 50 });
}

/** Sends and acknowledges at wall time `ackAt`. */
function ack(m: ProfileModel, t: GeneratedTag, ackAt = 0): ModelTag {
  const r = m.sent(t);
  m.acked(r, ackAt);
  return r;
}

const expectedOf = (p: ProfilePlan): ProfileAnswer => JSON.parse(p.expectedJson) as ProfileAnswer;

const times = (tags: TagJson[]): number[] => tags.map((t) => (parseUtc(t.time) as number) - T0);

describe('ProfileModel.answer', () => {
  it('filters by [from, to) first, then takes the newest `limit`, newest first', () => {
    const m = model();
    for (let i = 0; i < 10; i++) ack(m, tag('c', 'VIEW', T0 + i * 10));
    // Newer tags outside the range must not use up the limit.
    expect(times(m.answer('c', T0 + 20, T0 + 60, 3).views)).toEqual([50, 40, 30]);
    expect(times(m.answer('c', T0 + 20, T0 + 60, 200).views)).toEqual([50, 40, 30, 20]);
  });

  it('includes a tag exactly at `from` and excludes one exactly at `to`', () => {
    const m = model();
    ack(m, tag('c', 'BUY', T0 + 100));
    ack(m, tag('c', 'BUY', T0 + 200));
    expect(times(m.answer('c', T0 + 100, T0 + 200, 200).buys)).toEqual([100]);
    expect(m.answer('c', T0 + 101, T0 + 200, 200).buys).toEqual([]);
  });

  it('keeps views and buys apart and places late tags by their own time', () => {
    const m = model();
    ack(m, tag('c', 'VIEW', T0 + 2_000));
    ack(m, tag('c', 'BUY', T0 + 1_500));
    ack(m, tag('c', 'VIEW', T0 + 1_000)); // arrives late
    const a = m.answer('c', T0, T0 + 10_000, 200);
    expect(times(a.views)).toEqual([2_000, 1_000]);
    expect(times(a.buys)).toEqual([1_500]);
    expect(a.cookie).toBe('c');
  });

  it('leaves out tags not acknowledged, and forgets rejected ones entirely', () => {
    const m = model();
    ack(m, tag('c', 'VIEW', T0 + 1));
    m.sent(tag('c', 'VIEW', T0 + 2)); // in flight
    const rejected = m.sent(tag('c', 'VIEW', T0 + 3));
    m.rejected(rejected);
    expect(times(m.answer('c', T0, T0 + 10, 200).views)).toEqual([1]);
  });
});

describe('ProfileModel.plan', () => {
  const rng = new Rng(11, 'plan-spec');

  function plans(m: ProfileModel, cookie: string, now: number, streamNext: number, n = 300): ProfilePlan[] {
    const out: ProfilePlan[] = [];
    for (let i = 0; i < n; i++) {
      const p = m.plan(cookie, rng, now, streamNext);
      if (typeof p !== 'string') out.push(p);
    }
    return out;
  }

  it('asks only about settled data: `to` stays at or below the first tag acknowledged less than the latency ago', () => {
    const m = model();
    for (let i = 0; i < 20; i++) ack(m, tag('c', 'VIEW', T0 + i * 100), 0);
    ack(m, tag('c', 'VIEW', T0 + 2_000), 5_000); // acknowledged at 5 s: not yet settled at 5.5 s
    ack(m, tag('c', 'BUY', T0 + 2_100), 0);
    const ps = plans(m, 'c', 5_500, T0 + 10_000);
    expect(ps.length).toBeGreaterThan(200);
    expect(ps.every((p) => p.toMs <= T0 + 2_000)).toBe(true);
    // A second later everything is settled and the newer tags get asked about.
    expect(plans(m, 'c', 6_001, T0 + 10_000).some((p) => p.toMs > T0 + 2_100)).toBe(true);
  });

  it('treats in-flight and uncertain tags as unsettled, and stays below what is still to be sent', () => {
    const m = model();
    ack(m, tag('c', 'VIEW', T0 + 100));
    m.uncertain(m.sent(tag('c', 'VIEW', T0 + 500)));
    expect(plans(m, 'c', 10_000, T0 + 10_000).every((p) => p.toMs <= T0 + 500)).toBe(true);
    const n = model();
    ack(n, tag('d', 'VIEW', T0 + 100));
    // Second-precision tags still to come may be up to 999 ms older than the stream's position.
    expect(plans(n, 'd', 10_000, T0 + 3_000).every((p) => p.toMs <= T0 + 3_000 - 999)).toBe(true);
  });

  it('carries an expected answer that equals a brute-force reading of the tags, with URL-encoded cookie', () => {
    const m = model();
    const all: GeneratedTag[] = [];
    const r = new Rng(3);
    for (let i = 0; i < 150; i++) {
      const t = tag('a b/c', r.chance(0.3) ? 'BUY' : 'VIEW', T0 + i * 37 + r.int(30));
      all.push(t);
      ack(m, t);
    }
    for (const p of plans(m, 'a b/c', 100_000, Infinity)) {
      expect(p.path.startsWith('/user_profiles/a%20b%2Fc?time_range=')).toBe(true);
      const brute = (action: Action): string[] =>
        all
          .filter((t) => t.action === action && t.eventMs >= p.fromMs && t.eventMs < p.toMs)
          .sort((x, y) => y.eventMs - x.eventMs)
          .slice(0, p.limit ?? 200)
          .map((t) => t.json);
      expect(expectedOf(p).views.map((t) => JSON.stringify(t))).toEqual(brute('VIEW'));
      expect(expectedOf(p).buys.map((t) => JSON.stringify(t))).toEqual(brute('BUY'));
    }
  });

  it('uses small limits, the default (no limit parameter) and 200, and ranges that return something', () => {
    const m = model();
    for (let i = 0; i < 100; i++) ack(m, tag('c', 'VIEW', T0 + i * 10));
    const ps = plans(m, 'c', 100_000, Infinity);
    expect(ps.some((p) => p.limit === undefined && !p.path.includes('limit='))).toBe(true);
    expect(ps.some((p) => p.limit === 200)).toBe(true);
    expect(ps.some((p) => p.limit !== undefined && p.limit <= 10 && expectedOf(p).views.length === p.limit)).toBe(true);
    expect(ps.filter((p) => expectedOf(p).views.length > 0).length / ps.length).toBeGreaterThan(0.6);
  });

  it('never expects a tag that trimming to the newest 200 could remove, and notices when later tags push one out', () => {
    const m = model();
    for (let i = 0; i < 600; i++) ack(m, tag('hot', 'VIEW', T0 + i));
    const ps = plans(m, 'hot', 100_000, T0 + 10_000);
    // Only the newest (200 - 50 margin) are ever expected.
    expect(ps.every((p) => expectedOf(p).views.every((t) => parseUtc(t.time)! >= T0 + 600 - 150))).toBe(true);
    const oldest = ps.find((p) => p.oldest.VIEW !== undefined && p.oldest.VIEW === T0 + 450);
    expect(oldest).toBeDefined();
    expect(m.stillDetermined(oldest!)).toBe(true);
    // 50 more tags (sent while the query was in flight): the expected oldest is now the 200th newest, still kept.
    for (let i = 600; i < 650; i++) m.sent(tag('hot', 'VIEW', T0 + i));
    expect(m.stillDetermined(oldest!)).toBe(true);
    // One more and it may be gone: the comparison would prove nothing.
    m.sent(tag('hot', 'VIEW', T0 + 650));
    expect(m.stillDetermined(oldest!)).toBe(false);
  });
});
