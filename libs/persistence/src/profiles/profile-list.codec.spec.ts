import {
  ListEntry,
  encodeEntry,
  entriesOf,
  mergeList,
  rangeJson,
  rangeJsonOfParts,
  sortedDistinct,
  strictlyNewer,
} from './profile-list.codec';
import { tagDigestHex } from './tag-identity';

function entry(timeMs: number, label: string): ListEntry {
  const json = JSON.stringify({ t: timeMs, label });
  return encodeEntry(timeMs, tagDigestHex(json), json);
}

function labels(list: string | undefined, fromMs = -Infinity, toMs = Infinity, limit = 1_000): string[] {
  return (JSON.parse(rangeJson(list, fromMs, toMs, limit)) as { label: string }[]).map((t) => t.label);
}

/** The model: all distinct entries, newest first, the first `capacity`. */
function model(all: { t: number; label: string }[], capacity: number): string[] {
  const seen = new Map<string, ListEntry>();
  for (const a of all) seen.set(`${a.t}/${a.label}`, entry(a.t, a.label));
  return sortedDistinct([...seen.values()])
    .slice(0, capacity)
    .map((e) => (JSON.parse(e.line.slice(e.line.indexOf('{'))) as { label: string }).label);
}

describe('profile list codec', () => {
  it('merges into an empty list newest first, dropping repeats within the batch', () => {
    const list = mergeList(undefined, sortedDistinct([entry(1, 'a'), entry(3, 'c'), entry(2, 'b'), entry(3, 'c')]), 10);
    expect(labels(list)).toEqual(['c', 'b', 'a']);
  });

  it('answers undefined when nothing changes: every entry stored, or older than a full list', () => {
    const list = mergeList(undefined, sortedDistinct([entry(5, 'e'), entry(6, 'f')]), 2)!;
    expect(mergeList(list, sortedDistinct([entry(5, 'e')]), 2)).toBeUndefined();
    expect(mergeList(list, sortedDistinct([entry(1, 'old')]), 2)).toBeUndefined();
    expect(labels(mergeList(list, sortedDistinct([entry(7, 'g')]), 2))).toEqual(['g', 'f']);
  });

  it('keeps two different tags of one millisecond, in digest order, the same whatever the arrival order', () => {
    const one = mergeList(mergeList(undefined, [entry(5, 'x')], 10), [entry(5, 'y')], 10);
    const two = mergeList(mergeList(undefined, [entry(5, 'y')], 10), [entry(5, 'x')], 10);
    expect(labels(one)).toHaveLength(2);
    expect(labels(one)).toEqual(labels(two));
  });

  it('filters by range first, then applies the limit', () => {
    const list = mergeList(undefined, sortedDistinct([1, 2, 3, 4, 5, 6].map((t) => entry(t, `t${t}`))), 10);
    expect(labels(list, 2, 6, 10)).toEqual(['t5', 't4', 't3', 't2']);
    expect(labels(list, 2, 6, 2)).toEqual(['t5', 't4']);
    expect(labels(list, 7, 9, 5)).toEqual([]);
    expect(rangeJson(list, 0, 10, 0)).toBe('[]');
  });

  it('matches a model over many random merges, with capacity, repeats, ties and negative times', () => {
    let seed = 11;
    const rnd = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const capacity = 20;
    let list: string | undefined;
    const all: { t: number; label: string }[] = [];
    for (let round = 0; round < 200; round++) {
      const batch = Array.from({ length: 1 + rnd(8) }, () => ({ t: rnd(60) - 30, label: `l${rnd(3)}` }));
      all.push(...batch);
      list = mergeList(list, sortedDistinct(batch.map((b) => entry(b.t, b.label))), capacity) ?? list;
      expect(labels(list)).toEqual(model(all, capacity));
      expect(entriesOf(list).length).toBeLessThanOrEqual(capacity);
    }
    // Merging a list's own entries into another list gives their union.
    const other = mergeList(undefined, sortedDistinct([entry(100, 'new')]), capacity);
    expect(labels(mergeList(other, entriesOf(list), capacity))).toEqual(['new', ...model(all, capacity - 1)]);
  });

  it('reads a head newer than its body without a merge, exactly as the merge would answer', () => {
    let seed = 5;
    const rnd = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    let fast = 0;
    for (let round = 0; round < 300; round++) {
      const capacity = 1 + rnd(12);
      const body = mergeList(
        undefined,
        sortedDistinct(Array.from({ length: rnd(15) }, () => entry(rnd(40), `b${rnd(3)}`))),
        capacity,
      );
      const head = mergeList(
        undefined,
        sortedDistinct(Array.from({ length: rnd(6) }, () => entry(rnd(50), `h${rnd(3)}`))),
        capacity,
      );
      const merged = mergeList(body, entriesOf(head), capacity) ?? body;
      const from = rnd(50) - 5;
      const to = from + rnd(30);
      const limit = rnd(8);
      if (strictlyNewer(head, body)) {
        fast += 1;
        expect(rangeJsonOfParts([head, body], from, to, limit, capacity)).toBe(rangeJson(merged, from, to, limit));
      }
    }
    expect(fast).toBeGreaterThan(50);
    expect(strictlyNewer(mergeList(undefined, [entry(9, 'x')], 5), mergeList(undefined, [entry(9, 'x')], 5))).toBe(
      false,
    );
    expect(strictlyNewer(mergeList(undefined, [entry(8, 'x')], 5), mergeList(undefined, [entry(9, 'y')], 5))).toBe(
      false,
    );
    expect(strictlyNewer(undefined, mergeList(undefined, [entry(9, 'y')], 5))).toBe(true);
  });

  it('keeps the JSON text as it was, unicode and escapes included', () => {
    const json = JSON.stringify({ cookie: 'zażółć 🍕 "q" \\ \n \u0001 \ud800', product_id: '7' });
    const list = mergeList(undefined, [encodeEntry(-62_135_596_800_000, '00ff00ff00ff00ff', json)], 5);
    expect(rangeJson(list, -1e15, 1e15, 5)).toBe(`[${json}]`);
  });

  it('refuses a malformed list instead of guessing', () => {
    const list = mergeList(undefined, [entry(1, 'a')], 5)!;
    expect(() => rangeJson(list.slice(0, -1), 0, 10, 5)).toThrow(/malformed/);
    expect(() => rangeJson(`x${list}`, 0, 10, 5)).toThrow(/malformed/);
  });
});
