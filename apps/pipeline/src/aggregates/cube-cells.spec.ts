import { Action, CubeKey, cubeKeysOfTag } from '@lib/domain';
import { Cell, CubeCells, sumPriceOf } from './cube-cells';

interface Summed {
  key: CubeKey;
  count: number;
  sumPrice: bigint;
}

/** The flat model: every key of cubeKeysOfTag, summed by its JSON text. */
function model(tags: readonly [number, Action, string, string, string, number][]): Map<string, Summed> {
  const cells = new Map<string, Summed>();
  for (const [bucketMs, action, origin, brand, category, price] of tags) {
    for (const key of cubeKeysOfTag(bucketMs, action, origin, brand, category)) {
      const id = JSON.stringify(key);
      const cell = cells.get(id) ?? { key, count: 0, sumPrice: 0n };
      cell.count += 1;
      cell.sumPrice += BigInt(price);
      cells.set(id, cell);
    }
  }
  return cells;
}

const byKey = (cells: Iterable<Cell>): Map<string, Summed> =>
  new Map([...cells].map((c) => [JSON.stringify(c.key), { key: c.key, count: c.count, sumPrice: sumPriceOf(c) }]));

/** Prices are 32-bit integers, some near the limits. */
function randomTags(n: number, seed: number): [number, Action, string, string, string, number][] {
  let x = seed;
  const next = (m: number) => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x % m;
  };
  // Few values per dimension, some shared across dimensions, so that cells collide and values repeat.
  const text = ['a', 'b', 'c', '', 'a\u0001b', 'ż'];
  return Array.from({ length: n }, () => [
    60_000 * next(3),
    next(2) === 0 ? 'VIEW' : 'BUY',
    text[next(text.length)]!,
    text[next(text.length)]!,
    text[next(text.length)]!,
    next(10) === 0 ? (next(2) === 0 ? 2 ** 31 - 1 - next(1_000) : -(2 ** 31) + next(1_000)) : next(1_000) - 500,
  ]);
}

describe('CubeCells', () => {
  it('adds each tag to the same 8 cells, with the same keys and sums, as cubeKeysOfTag', () => {
    const tags = randomTags(3_000, 7);
    const cells = new CubeCells();
    for (const t of tags) cells.addTag(...t);
    const want = model(tags);
    expect(cells.size).toBe(want.size);
    expect(byKey(cells.values())).toEqual(want);
  });

  it('adds given-back deltas into existing cells and creates missing ones, for every dims', () => {
    const first = randomTags(500, 1);
    const second = randomTags(500, 2);
    const cells = new CubeCells();
    for (const t of first) cells.addTag(...t);
    const back = new CubeCells();
    for (const t of second) back.addTag(...t);
    for (const c of back.values()) cells.addCell(c.key, c.count, sumPriceOf(c));
    expect(byKey(cells.values())).toEqual(model([...first, ...second]));
    expect(new Set(back.values().map((c) => c.key.dims))).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7]));
  });

  it('keeps a cell per key: the same text in another dimension or bucket is another cell', () => {
    const cells = new CubeCells();
    cells.addTag(0, 'VIEW', 'x', 'x', 'x', 1);
    cells.addTag(60_000, 'VIEW', 'x', 'x', 'x', 1);
    cells.addTag(0, 'BUY', 'x', 'x', 'x', 1);
    const keys: CubeKey[] = cells.values().map((c) => c.key);
    expect(keys).toHaveLength(24);
    expect(new Set(keys.map((k) => JSON.stringify(k))).size).toBe(24);
  });

  it('keeps sums exact past the range of a double: the part beyond the limit moves into a bigint', () => {
    // A limit of 2^32 makes the carry happen every few tags of 32-bit prices; the default's (2^53 - 2^31)
    // behaves the same after millions.
    const tags = randomTags(3_000, 11);
    const cells = new CubeCells(2 ** 32);
    for (const t of tags) cells.addTag(...t);
    expect(byKey(cells.values())).toEqual(model(tags));
    expect(cells.values().some((c) => c.carry !== 0n)).toBe(true);
    // Sums no double could hold, in both directions.
    const big = new CubeCells();
    for (let i = 0; i < 5; i++) big.addTag(0, 'VIEW', '', '', '', 2 ** 31 - 1);
    big.addCell({ bucketMs: 0, action: 'VIEW', dims: 0, origin: '', brandId: '', categoryId: '' }, 1, 2n ** 70n);
    expect(sumPriceOf(big.values()[0]!)).toBe(2n ** 70n + 5n * (2n ** 31n - 1n));
  });
});
