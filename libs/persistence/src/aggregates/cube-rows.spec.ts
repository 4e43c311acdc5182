import { CubeDelta, cubeKeysOfTag } from '@lib/domain';
import { toColumns } from './cube-rows';

const B = Date.parse('2022-03-01T00:05:00Z');

function deltas(bucketMs: number, origin: string, brand: string, category: string, price: number): CubeDelta[] {
  return cubeKeysOfTag(bucketMs, 'BUY', origin, brand, category).map((key) => ({
    key,
    count: 1,
    sumPrice: BigInt(price),
  }));
}

/** Deltas of consecutive partitions 0, 1, ... */
function inPartitions(groups: CubeDelta[][]): { partition: number; deltas: CubeDelta[] }[] {
  return groups.map((deltas, partition) => ({ partition, deltas }));
}

describe('toColumns', () => {
  it('lays out every delta of every partition, in order, as parallel array literals', () => {
    const cols = toColumns(
      inPartitions([deltas(B, 'o1', 'b1', 'k1', 7).slice(6), [{ ...deltas(B, 'o2', 'b1', 'k1', 2)[1], count: 3 }]]),
    );
    expect(cols).toEqual({
      partition: '{0,0,1}',
      bucketMs: `{${B},${B},${B}}`,
      action: '{BUY,BUY,BUY}',
      dims: '{6,7,1}',
      origin: '{"","o1","o2"}',
      brandId: '{"b1","b1",""}',
      categoryId: '{"k1","k1",""}',
      count: '{1,1,3}',
      sumPrice: '{7,7,2}',
    });
  });

  it('quotes every text element and escapes quotes and backslashes', () => {
    const full = toColumns(inPartitions([deltas(B, 'a"b\\c', 'NULL', '{x, y}', 1).slice(7)]));
    expect(full.origin).toBe('{"a\\"b\\\\c"}');
    expect(full.brandId).toBe('{"NULL"}');
    expect(full.categoryId).toBe('{"{x, y}"}');
  });

  it('sends text with NUL or lone surrogates through keyText, distinct and without NUL', () => {
    const cols = toColumns(
      inPartitions([
        deltas(B, 'a\u0000b', 'a', '\ud800', 1).slice(7),
        deltas(B, 'a', 'a\u0000b', '\udc00', 1).slice(7),
      ]),
    );
    expect(cols.origin).not.toContain('\u0000');
    expect(cols.brandId).not.toContain('\u0000');
    const origins = cols.origin.slice(1, -1).split('","');
    expect(new Set(origins).size).toBe(2);
    expect(cols.categoryId).not.toMatch(/[\ud800-\udfff]/);
  });

  it('keeps sums exact beyond 2^53', () => {
    const key = cubeKeysOfTag(B, 'VIEW', 'o', 'b', 'k')[0];
    expect(toColumns(inPartitions([[{ key, count: 1, sumPrice: 2n ** 62n + 1n }]])).sumPrice).toBe(
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
    expect(() => toColumns(inPartitions([[{ key: bad, count: 1, sumPrice: 1n }]]))).toThrow(/malformed cube key/);
  });

  it('refuses a count that is not a safe integer', () => {
    expect(() => toColumns(inPartitions([[{ key, count: 1.5, sumPrice: 1n }]]))).toThrow(/count/);
  });
});
