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
  it('sums the deltas of one cell over the partitions into one row, dimensions as ids', () => {
    const d = dictionary();
    const cols = toColumns(
      inPartitions([
        deltas(B, 'o1', 'b1', 'k1', 7).slice(6),
        [{ ...deltas(B, 'o2', 'b1', 'k1', 2)[1], count: 3 }],
        deltas(B, 'o1', 'b1', 'k1', 5).slice(7),
      ]),
      d.idOf,
    );
    const [o1, o2, b1, k1] = ['o1', 'o2', 'b1', 'k1'].map((v) => d.ids.get(v));
    expect(cols).toEqual({
      // dims 1 (o2), 6, then 7 (o1 b1 k1 from partitions 0 and 2, summed)
      bucketMs: `{${B},${B},${B}}`,
      action: '{1,1,1}',
      dims: '{1,6,7}',
      origin: `{${o2},0,${o1}}`,
      brand: `{0,${b1},${b1}}`,
      category: `{0,${k1},${k1}}`,
      count: '{3,1,2}',
      sumPrice: '{2,7,12}',
      rows: 3,
    });
  });

  it('sorts the rows by the primary key: action, dims, origin, brand, category, bucket', () => {
    const d = dictionary();
    // Ids in order of first use: z (1) before a (2), so id order is not text order.
    for (const v of ['z', 'a', 'b', 'k']) d.idOf(v);
    const later = B + 60_000;
    const cols = toColumns(
      inPartitions([
        [
          ...deltas(later, 'a', 'b', 'k', 1),
          ...deltas(B, 'a', 'b', 'k', 1),
          ...deltas(B, 'z', 'b', 'k', 1),
          ...cubeKeysOfTag(B, 'VIEW', 'a', 'b', 'k').map((key) => ({ key, count: 1, sumPrice: 1n })),
        ],
      ]),
      d.idOf,
    );
    const rows = cols.rows;
    const column = (literal: string): number[] => literal.slice(1, -1).split(',').map(Number);
    const keys = Array.from({ length: rows }, (_, i) =>
      [cols.action, cols.dims, cols.origin, cols.brand, cols.category, cols.bucketMs].map((c) => column(c)[i]),
    );
    const sorted = [...keys].sort((x, y) => {
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
      return 0;
    });
    expect(keys).toEqual(sorted);
    // 8 cells of the VIEW tag; BUY: dims 0, 2, 4, 6 shared by the two origins in B (8 - 4 + 4 + 4 = 12) and 8 later.
    expect(rows).toBe(8 + 12 + 8);
    expect(column(cols.count).reduce((a, b) => a + b, 0)).toBe(4 * 8);
    expect(keys[0].slice(0, 2)).toEqual([0, 0]);
    // Among the BUY (origin, brand, category) rows: z's id (1) before a's (2), then a's later bucket.
    expect(keys.filter((k) => k[0] === 1 && k[1] === 7).map((k) => [k[2], k[5]])).toEqual([
      [1, B],
      [2, B],
      [2, later],
    ]);
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
    const big = { key, count: 1, sumPrice: 2n ** 61n + 1n };
    expect(toColumns(inPartitions([[big], [big]]), dictionary().idOf).sumPrice).toBe(`{${2n ** 62n + 2n}}`);
    // Each delta exact as a double, their sum not: carried on as a bigint from there.
    const near = { key, count: 1, sumPrice: BigInt(Number.MAX_SAFE_INTEGER - 1) };
    const sums = toColumns(
      inPartitions([[near], [{ ...near, sumPrice: 5n }], [{ ...near, sumPrice: -3n }]]),
      dictionary().idOf,
    );
    expect(sums.sumPrice).toBe(`{${BigInt(Number.MAX_SAFE_INTEGER) + 1n}}`);
    expect(sums.count).toBe('{3}');
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
