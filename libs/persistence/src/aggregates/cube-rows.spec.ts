import { CubeDelta, cubeKeysOfTag } from '@lib/domain';
import { dimensionValues, toColumns } from './cube-rows';

const B = Date.parse('2022-03-01T00:05:00Z');

function deltas(bucketMs: number, origin: string, brand: string, category: string, price: number): CubeDelta[] {
  return cubeKeysOfTag(bucketMs, 'BUY', origin, brand, category).map((key) => ({
    key,
    count: 1,
    sumPrice: BigInt(price),
  }));
}

/** A dictionary as the store keeps it: ids in order of first use, from 1. */
function dictionary(): { idOf: (v: string) => number; ids: Map<string, number> } {
  const ids = new Map<string, number>();
  return {
    ids,
    idOf: (v) => {
      if (!ids.has(v)) ids.set(v, ids.size + 1);
      return ids.get(v) as number;
    },
  };
}

/** Deltas of consecutive partitions 0, 1, ... */
function inPartitions(groups: CubeDelta[][]): { partition: number; deltas: CubeDelta[] }[] {
  return groups.map((deltas, partition) => ({ partition, deltas }));
}

describe('toColumns', () => {
  it('lays out every delta of every partition, in order, as parallel array literals, dimensions as ids', () => {
    const d = dictionary();
    const cols = toColumns(
      inPartitions([deltas(B, 'o1', 'b1', 'k1', 7).slice(6), [{ ...deltas(B, 'o2', 'b1', 'k1', 2)[1], count: 3 }]]),
      d.idOf,
    );
    expect(cols).toEqual({
      partition: '{0,0,1}',
      bucketMs: `{${B},${B},${B}}`,
      action: '{1,1,1}',
      dims: '{6,7,1}',
      origin: `{0,${d.ids.get('o1')},${d.ids.get('o2')}}`,
      brand: `{${d.ids.get('b1')},${d.ids.get('b1')},0}`,
      category: `{${d.ids.get('k1')},${d.ids.get('k1')},0}`,
      count: '{1,1,3}',
      sumPrice: '{7,7,2}',
    });
    expect([...d.ids.keys()].sort()).toEqual(['b1', 'k1', 'o1', 'o2']);
  });

  it('asks ids of the values as sent (the store maps them through keyText), and lists what needs one', () => {
    const d = dictionary();
    const groups = inPartitions([
      deltas(B, 'a\u0000b', 'a', '\ud800', 1).slice(7),
      deltas(B, 'a', 'a\u0000b', '\udc00', 1).slice(7),
    ]);
    const cols = toColumns(groups, d.idOf);
    expect(cols.origin).toBe(`{${d.idOf('a\u0000b')},${d.idOf('a')}}`);
    expect(cols.category).toBe(`{${d.idOf('\ud800')},${d.idOf('\udc00')}}`);
    expect(d.idOf('\ud800')).not.toBe(d.idOf('\udc00'));
    // The values a flush must find ids for: those asked, '' (unfixed) left out.
    expect([...dimensionValues(groups)].sort()).toEqual([...d.ids.keys()].sort());
    expect(dimensionValues(inPartitions([deltas(B, 'o', 'b', 'k', 1).slice(0, 1)])).size).toBe(0);
  });

  it('keeps sums exact beyond 2^53', () => {
    const key = cubeKeysOfTag(B, 'VIEW', 'o', 'b', 'k')[0];
    expect(toColumns(inPartitions([[{ key, count: 1, sumPrice: 2n ** 62n + 1n }]]), dictionary().idOf).sumPrice).toBe(
      `{${2n ** 62n + 1n}}`,
    );
  });

  const key = cubeKeysOfTag(B, 'VIEW', 'o', 'b', 'k')[7];
  it.each([
    ['a bucket inside a minute', { ...key, bucketMs: B + 1 }],
    ['an unknown action', { ...key, action: 'CLICK' as 'VIEW' }],
    ['a mask out of range', { ...key, dims: 8 }],
    ['a fixed dimension without a value', { ...key, origin: '' }],
    ['a value for a dimension the mask leaves open', { ...key, dims: 6 }],
  ])('refuses a key with %s', (_what, bad) => {
    expect(() => toColumns(inPartitions([[{ key: bad, count: 1, sumPrice: 1n }]]), dictionary().idOf)).toThrow(
      /malformed cube key/,
    );
  });

  it('refuses a count that is not a safe integer', () => {
    expect(() => toColumns(inPartitions([[{ key, count: 1.5, sumPrice: 1n }]]), dictionary().idOf)).toThrow(/count/);
  });
});
