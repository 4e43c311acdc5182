import { CubeDelta } from '@lib/domain';
import { keyText } from '../key-text';

/**
 * A flush's deltas as the eight array parameters of its one upsert, as PostgreSQL array literals
 * (`{1,2}`, `{"a","b"}`), built here rather than by `pg` from JS arrays, whose generic serializer
 * costs twice as much.
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
  readonly brandId: string;
  readonly categoryId: string;
  readonly count: string;
  readonly sumPrice: string;
}

/**
 * What the table's CHECK constraints would enforce, at a fraction of their cost (see the
 * migration): whole-minute buckets, a known action, and a mask that agrees with the values
 * (a dimension is fixed exactly when its value is not '').
 */
function checkKey(k: CubeDelta['key']): void {
  const fixed = (bit: number, value: string): boolean => ((k.dims & bit) !== 0) === (value !== '');
  if (
    k.bucketMs % 60_000 !== 0 ||
    (k.action !== 'VIEW' && k.action !== 'BUY') ||
    !Number.isInteger(k.dims) ||
    k.dims < 0 ||
    k.dims > 7 ||
    !fixed(1, k.origin) ||
    !fixed(2, k.brandId) ||
    !fixed(4, k.categoryId)
  ) {
    throw new RangeError(`malformed cube key ${JSON.stringify(k)}`);
  }
}

const NEEDS_ESCAPE = /["\\]/;

/** An element of a text[] literal: always quoted, so commas, braces, blanks and "NULL" stay text. */
function quoted(value: string): string {
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(/[\\"]/g, '\\$&')}"` : `"${value}"`;
}

/** Array literals of every delta of `groups`, in order, each key checked and its texts through keyText. */
export function toColumns(
  groups: Iterable<{ readonly partition: number; readonly deltas: readonly CubeDelta[] }>,
): CubeColumns {
  const partition: number[] = [];
  const bucketMs: number[] = [];
  const action: string[] = [];
  const dims: number[] = [];
  const origin: string[] = [];
  const brandId: string[] = [];
  const categoryId: string[] = [];
  const count: number[] = [];
  const sumPrice: string[] = [];
  for (const group of groups) {
    for (const d of group.deltas) {
      const k = d.key;
      checkKey(k);
      if (!Number.isSafeInteger(d.count)) throw new RangeError(`malformed delta count ${d.count}`);
      partition.push(group.partition);
      bucketMs.push(k.bucketMs);
      action.push(k.action);
      dims.push(k.dims);
      origin.push(quoted(keyText(k.origin)));
      brandId.push(quoted(keyText(k.brandId)));
      categoryId.push(quoted(keyText(k.categoryId)));
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
    brandId: literal(brandId),
    categoryId: literal(categoryId),
    count: literal(count),
    sumPrice: literal(sumPrice),
  };
}
