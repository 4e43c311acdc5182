import { CubeDelta, cubeKeysOfTag } from '@lib/domain';
import { mergeCubeDeltas, toColumns } from './cube-rows';

const B = Date.parse('2022-03-01T00:05:00Z');

function deltas(bucketMs: number, origin: string, brand: string, category: string, price: number): CubeDelta[] {
  return cubeKeysOfTag(bucketMs, 'BUY', origin, brand, category).map((key) => ({ key, count: 1, sumPrice: BigInt(price) }));
}

describe('mergeCubeDeltas', () => {
  it('adds deltas of one cell across partitions and keeps other cells apart', () => {
    const cells = mergeCubeDeltas([deltas(B, 'o1', 'b1', 'k1', 10), deltas(B, 'o1', 'b2', 'k1', 5), deltas(B + 60_000, 'o1', 'b1', 'k1', 1)]);
    const all = cells.find((c) => c.dims === 0 && c.bucketMs === B);
    expect(all).toMatchObject({ count: 2, sumPrice: 15n });
    const o1 = cells.find((c) => c.dims === 1 && c.bucketMs === B);
    expect(o1).toMatchObject({ count: 2, sumPrice: 15n });
    const b1 = cells.find((c) => c.dims === 2 && c.brandId === 'b1' && c.bucketMs === B);
    expect(b1).toMatchObject({ count: 1, sumPrice: 10n });
    // 8 cells for the first tag, 4 new (those fixing the brand) for the second, 8 in the next minute.
    expect(cells).toHaveLength(20);
  });

  it('does not confuse values whose concatenations agree, NUL included', () => {
    const cells = mergeCubeDeltas([
      deltas(B, 'a\u0000b', 'c', 'k', 1),
      deltas(B, 'a', 'b\u0000c', 'k', 1),
      deltas(B, 'a', 'b', 'c\u0000k', 1),
      deltas(B, 'a', 'b', 'c', 1),
    ]);
    const full = cells.filter((c) => c.dims === 7);
    expect(full).toHaveLength(4);
    expect(full.every((c) => !`${c.origin}${c.brandId}${c.categoryId}`.includes('\u0000'))).toBe(true);
  });

  it('orders buckets numerically, before 1970 and after 2286 included', () => {
    const times = [Date.parse('1969-12-31T23:59:00Z'), Date.parse('2300-01-01T00:00:00Z'), Date.parse('1970-01-01T00:00:00Z')];
    const cells = mergeCubeDeltas(times.map((t) => deltas(t, 'o', 'b', 'k', 1)));
    expect(cells.filter((c) => c.dims === 0).map((c) => c.bucketMs)).toEqual([...times].sort((x, y) => x - y));
  });

  it('sorts by the primary key: action, dims, origin, brand_id, category_id, bucket', () => {
    const cells = mergeCubeDeltas([deltas(B + 60_000, 'o2', 'b', 'k', 1), deltas(B, 'o2', 'b', 'k', 1), deltas(B, 'o1', 'b', 'k', 1)]);
    const keys = cells;
    const origins = keys.filter((k) => k.dims === 1).map((k) => `${k.origin}@${k.bucketMs - B}`);
    expect(origins).toEqual(['o1@0', 'o2@0', 'o2@60000']);
    const dims = keys.map((k) => k.dims);
    expect(dims).toEqual([...dims].sort((a, b) => a - b));
  });

  it('keeps sums exact beyond 2^53', () => {
    const big = 2n ** 60n;
    const key = cubeKeysOfTag(B, 'VIEW', 'o', 'b', 'k')[0];
    const cells = mergeCubeDeltas([[{ key, count: 1, sumPrice: big }], [{ key, count: 1, sumPrice: 3n }]]);
    expect(toColumns(cells).sumPrice).toBe(`{${(big + 3n).toString()}}`);
  });
});

describe('mergeCubeDeltas key checks', () => {
  const key = cubeKeysOfTag(B, 'VIEW', 'o', 'b', 'k')[7];
  it.each([
    ['a bucket inside a minute', { ...key, bucketMs: B + 1 }],
    ['an unknown action', { ...key, action: 'CLICK' as 'VIEW' }],
    ['a mask out of range', { ...key, dims: 8 }],
    ['a fixed dimension without a value', { ...key, origin: '' }],
    ['a value for a dimension the mask leaves open', { ...key, dims: 6 }],
  ])('refuses %s', (_what, bad) => {
    expect(() => mergeCubeDeltas([[{ key: bad, count: 1, sumPrice: 1n }]])).toThrow(/malformed cube key/);
  });
});

describe('toColumns', () => {
  it('lays out a slice of the cells as parallel array literals', () => {
    const cells = mergeCubeDeltas([deltas(B, 'o1', 'b1', 'k1', 7)]);
    const cols = toColumns(cells, 6, 8);
    expect(cols).toEqual({
      bucketMs: `{${B},${B}}`,
      action: '{BUY,BUY}',
      dims: '{6,7}',
      origin: '{"","o1"}',
      brandId: '{"b1","b1"}',
      categoryId: '{"k1","k1"}',
      count: '{1,1}',
      sumPrice: '{7,7}',
    });
  });

  it('quotes every text element and escapes quotes and backslashes', () => {
    const cells = mergeCubeDeltas([deltas(B, 'a"b\\c', 'NULL', '{x, y}', 1)]);
    const full = toColumns(cells, cells.length - 1);
    expect(full.origin).toBe('{"a\\"b\\\\c"}');
    expect(full.brandId).toBe('{"NULL"}');
    expect(full.categoryId).toBe('{"{x, y}"}');
  });
});
