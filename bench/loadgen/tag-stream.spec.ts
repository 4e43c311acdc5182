import { DEFAULT_STREAM, GeneratedTag, INT32_MAX, INT32_MIN, StreamConfig, TagStream } from './tag-stream';
import { parseUtc } from './utc';

const config = (over: Partial<StreamConfig> = {}): StreamConfig => ({ ...DEFAULT_STREAM, seed: 7, ...over });
const take = (stream: TagStream, n: number): GeneratedTag[] => Array.from({ length: n }, () => stream.next());

describe('TagStream', () => {
  it('is the same stream for the same seed, another for another seed', () => {
    const a = take(new TagStream(config()), 2_000).map((t) => t.json);
    const b = take(new TagStream(config()), 2_000).map((t) => t.json);
    const c = take(new TagStream(config({ seed: 8 })), 2_000).map((t) => t.json);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it('starts at 2022-03-01T00:00:00.000Z and steps 1 ms, some tags truncated to the second and sent without ms', () => {
    const tags = take(new TagStream(config({ secondPrecisionShare: 0.1 })), 20_000);
    expect(tags[0]!.body.time).toMatch(/^2022-03-01T00:00:00(\.000)?Z$/);
    let truncated = 0;
    const problems: string[] = [];
    for (const t of tags) {
      const nominal = Date.UTC(2022, 2, 1) + t.seq;
      if (parseUtc(t.body.time, 'required') !== t.eventMs) problems.push(`${t.body.time} is not ${t.eventMs}`);
      if (/:\d\dZ$/.test(t.body.time)) {
        truncated++;
        if (t.eventMs % 1000 !== 0 || nominal - t.eventMs > 999 || nominal < t.eventMs) problems.push(t.body.time);
      } else if (t.eventMs !== nominal || !/\.\d{3}Z$/.test(t.body.time)) problems.push(t.body.time);
    }
    expect(problems).toEqual([]);
    expect(truncated / tags.length).toBeGreaterThan(0.05);
  });

  it('never gives one cookie and action two tags at the same millisecond, even with many truncated', () => {
    const tags = take(new TagStream(config({ cookies: 50, secondPrecisionShare: 0.5 })), 30_000);
    const seen = new Set<string>();
    const dup = tags.filter((t) => {
      const k = `${t.cookie}|${t.action}|${t.eventMs}`;
      if (seen.has(k)) return true;
      seen.add(k);
      return false;
    });
    expect(dup).toEqual([]);
  });

  it('sends product_id as a JSON integer (sometimes a string), prices as int32 with some extremes', () => {
    const tags = take(new TagStream(config({ extremePriceShare: 0.05 })), 20_000);
    const ints = tags.filter((t) => Number.isInteger(t.body.product_info.product_id)).length;
    expect(ints / tags.length).toBeGreaterThan(0.9);
    expect(tags.some((t) => typeof t.body.product_info.product_id === 'string')).toBe(true);
    expect(tags.every((t) => Number.isInteger(t.price) && t.price >= INT32_MIN && t.price <= INT32_MAX)).toBe(true);
    expect(tags.some((t) => t.price === INT32_MAX)).toBe(true);
    expect(tags.some((t) => t.price < 0)).toBe(true);
    expect(JSON.parse(tags[0]!.json)).toEqual(tags[0]!.body);
  });

  it('keeps within the configured cardinalities, with skewed cookie popularity', () => {
    const stream = new TagStream(config({ countries: 5, origins: 7, brands: 3, categories: 2 }));
    const tags = take(stream, 20_000);
    const distinct = (f: (t: GeneratedTag) => string): number => new Set(tags.map(f)).size;
    expect(distinct((t) => t.body.country)).toBeLessThanOrEqual(5);
    expect(distinct((t) => t.body.origin)).toBe(7);
    expect(distinct((t) => t.body.product_info.brand_id)).toBe(3);
    expect(distinct((t) => t.body.product_info.category_id)).toBe(2);
    expect(new Set(tags.map((t) => t.body.device))).toEqual(new Set(['PC', 'MOBILE', 'TV']));
    const perCookie = new Map<string, number>();
    for (const t of tags) perCookie.set(t.cookie, (perCookie.get(t.cookie) ?? 0) + 1);
    const counts = [...perCookie.values()].sort((a, b) => b - a);
    // A few cookies with long histories (more than the 200 a profile keeps), a long tail seen once.
    expect(counts[0]).toBeGreaterThan(400);
    expect(counts.filter((c) => c === 1).length).toBeGreaterThan(perCookie.size / 2);
  });

  it('mixes in names that need URL encoding when asked to', () => {
    const stream = new TagStream(config({ oddNameShare: 0.5 }));
    expect(stream.originNames.some((n) => encodeURIComponent(n) !== n)).toBe(true);
    const plain = new TagStream(config({ oddNameShare: 0 }));
    expect(plain.originNames.every((n) => /^[A-Za-z0-9-]+$/.test(n))).toBe(true);
    expect(new Set(plain.originNames).size).toBe(plain.originNames.length);
  });
});
