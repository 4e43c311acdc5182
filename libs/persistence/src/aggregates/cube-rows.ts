import { CubeDelta } from '@lib/domain';

/** The cube's action column: a smallint. */
export const ACTION_CODE = { VIEW: 0, BUY: 1 } as const;

/**
 * A flush's deltas as the eight array parameters of its one upsert, as PostgreSQL array literals
 * (`{1,2}`), built here rather than by `pg` from JS arrays, whose generic serializer costs twice as
 * much. Origin, brand and category go as their ids in the cube_dimension dictionary (`idOf`, given
 * the value as the client sent it; 0 for the unfixed ''), the action as its ACTION_CODE.
 *
 * The deltas go unmerged: the statement itself sums deltas of one cell (GROUP BY) and orders the
 * rows by the primary key, which INSERT ... ON CONFLICT DO UPDATE needs (it refuses to touch a row
 * twice) and which makes concurrent flushes lock shared cells in one order (no deadlock). Merging
 * and sorting in PostgreSQL costs it more CPU than it costs JavaScript, but a third of the total
 * client CPU, off the pipeline's event loop (bench/persistence, RESULTS.md).
 */
export interface CubeColumns {
  /** The Kafka partition each delta was read from: the flush adds only the applied ones. */
  readonly partition: string;
  readonly bucketMs: string;
  readonly action: string;
  readonly dims: string;
  readonly origin: string;
  readonly brand: string;
  readonly category: string;
  readonly count: string;
  readonly sumPrice: string;
}

/**
 * What the table's CHECK constraints would enforce, at a fraction of their cost (see the
 * migration): whole-minute buckets, a known action, and a mask that agrees with the values
 * (a dimension is fixed exactly when its value is not '').
 */
function checkKey(k: CubeDelta['key']): void {
  const d = k.dims;
  if (
    k.bucketMs % 60_000 !== 0 ||
    (k.action !== 'VIEW' && k.action !== 'BUY') ||
    !Number.isInteger(d) ||
    d < 0 ||
    d > 7 ||
    ((d & 1) !== 0) !== (k.origin !== '') ||
    ((d & 2) !== 0) !== (k.brandId !== '') ||
    ((d & 4) !== 0) !== (k.categoryId !== '')
  ) {
    throw new RangeError(`malformed cube key ${JSON.stringify(k)}`);
  }
}

/** The values of the deltas' fixed dimensions as the client sent them ('' left out): what needs an id. */
export function dimensionValues(
  groups: Iterable<{ readonly deltas: readonly CubeDelta[] }>,
  out: Set<string> = new Set<string>(),
): Set<string> {
  for (const group of groups) {
    for (const { key } of group.deltas) {
      if (key.origin !== '') out.add(key.origin);
      if (key.brandId !== '') out.add(key.brandId);
      if (key.categoryId !== '') out.add(key.categoryId);
    }
  }
  return out;
}

/**
 * Array literals of every delta of `groups`, in order, each key checked; a fixed dimension's value goes
 * as `idOf(value)`, the id of the dictionary's entry for keyText(value) (the caller caches them).
 */
export function toColumns(
  groups: Iterable<{ readonly partition: number; readonly deltas: readonly CubeDelta[] }>,
  idOf: (value: string) => number,
): CubeColumns {
  const id = (value: string): number => (value === '' ? 0 : idOf(value));
  const partition: number[] = [];
  const bucketMs: number[] = [];
  const action: number[] = [];
  const dims: number[] = [];
  const origin: number[] = [];
  const brand: number[] = [];
  const category: number[] = [];
  const count: number[] = [];
  const sumPrice: string[] = [];
  for (const group of groups) {
    for (const d of group.deltas) {
      const k = d.key;
      checkKey(k);
      if (!Number.isSafeInteger(d.count)) throw new RangeError(`malformed delta count ${d.count}`);
      partition.push(group.partition);
      bucketMs.push(k.bucketMs);
      action.push(ACTION_CODE[k.action]);
      dims.push(k.dims);
      origin.push(id(k.origin));
      brand.push(id(k.brandId));
      category.push(id(k.categoryId));
      count.push(d.count);
      sumPrice.push(d.sumPrice.toString());
    }
  }
  const literal = (items: ReadonlyArray<string | number>): string => `{${items.join(',')}}`;
  return {
    partition: literal(partition),
    bucketMs: literal(bucketMs),
    action: literal(action),
    dims: literal(dims),
    origin: literal(origin),
    brand: literal(brand),
    category: literal(category),
    count: literal(count),
    sumPrice: literal(sumPrice),
  };
}
