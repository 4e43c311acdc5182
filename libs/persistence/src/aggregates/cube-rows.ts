import { CubeDelta } from '@lib/domain';
import { keyText } from '../key-text';

/**
 * Deltas merged per cube cell and laid out as the array parameters of one `unnest` upsert.
 *
 * Merging matters twice over: INSERT ... ON CONFLICT DO UPDATE refuses to touch one row twice in a
 * statement, and every merged delta is one row less to write. Rows are sorted by the primary key
 * (action, dims, origin, brand_id, category_id, bucket_ms) so that the index is walked in order
 * (measured faster than random order) and two flushes touching the same cells take their row
 * locks in the same order (no deadlock).
 */

/**
 * The eight array parameters, as PostgreSQL array literals (`{1,2}`, `{"a","b"}`). Built here
 * rather than by `pg` from JS arrays: its generic serializer cost more per row than the merge.
 */
export interface CubeColumns {
  readonly bucketMs: string;
  readonly action: string;
  readonly dims: string;
  readonly origin: string;
  readonly brandId: string;
  readonly categoryId: string;
  readonly count: string;
  readonly sumPrice: string;
}

export interface CubeCell {
  /** Identity and sort key, see cellId. */
  readonly id: string;
  readonly bucketMs: number;
  readonly action: string;
  readonly dims: number;
  /** Dimension values as stored: through keyText. */
  readonly origin: string;
  readonly brandId: string;
  readonly categoryId: string;
  count: number;
  sumPrice: bigint;
}

/** Wide enough for any bucket of years 0000-9999 once offset to be non-negative. */
const BUCKET_DIGITS = 16;
const BUCKET_OFFSET_MS = 62_167_219_200_000;

/**
 * One string per cell that is both its identity and its place in primary-key order: the key's
 * parts joined by U+0000, which no part contains (keyText output never does; action, dims and the
 * zero-padded bucket are fixed-format), so distinct cells never share an id, and comparing ids
 * compares the parts one after another.
 */
function cellId(action: string, dims: number, origin: string, brandId: string, categoryId: string, bucketMs: number): string {
  const bucket = String(bucketMs + BUCKET_OFFSET_MS).padStart(BUCKET_DIGITS, '0');
  return `${action}\u0000${dims}\u0000${origin}\u0000${brandId}\u0000${categoryId}\u0000${bucket}`;
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

/** Merges deltas of any number of partitions into one row per cell, in primary-key order. */
export function mergeCubeDeltas(groups: Iterable<readonly CubeDelta[]>): CubeCell[] {
  const cells = new Map<string, CubeCell>();
  for (const deltas of groups) {
    for (const d of deltas) {
      const k = d.key;
      checkKey(k);
      const origin = keyText(k.origin);
      const brandId = keyText(k.brandId);
      const categoryId = keyText(k.categoryId);
      const id = cellId(k.action, k.dims, origin, brandId, categoryId, k.bucketMs);
      const cell = cells.get(id);
      if (cell) {
        cell.count += d.count;
        cell.sumPrice += d.sumPrice;
      } else {
        cells.set(id, { id, bucketMs: k.bucketMs, action: k.action, dims: k.dims, origin, brandId, categoryId, count: d.count, sumPrice: d.sumPrice });
      }
    }
  }
  return [...cells.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const NEEDS_ESCAPE = /["\\]/;

/** An element of a text[] literal: always quoted, so commas, braces, blanks and "NULL" stay text. */
function quoted(value: string): string {
  return NEEDS_ESCAPE.test(value) ? `"${value.replace(/[\\"]/g, '\\$&')}"` : `"${value}"`;
}

/** Array literals of cells[from, to). */
export function toColumns(cells: readonly CubeCell[], from = 0, to = cells.length): CubeColumns {
  const n = to - from;
  const bucketMs = new Array<number>(n);
  const action = new Array<string>(n);
  const dims = new Array<number>(n);
  const origin = new Array<string>(n);
  const brandId = new Array<string>(n);
  const categoryId = new Array<string>(n);
  const count = new Array<number>(n);
  const sumPrice = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const c = cells[from + i];
    bucketMs[i] = c.bucketMs;
    action[i] = c.action;
    dims[i] = c.dims;
    origin[i] = quoted(c.origin);
    brandId[i] = quoted(c.brandId);
    categoryId[i] = quoted(c.categoryId);
    count[i] = c.count;
    sumPrice[i] = c.sumPrice.toString();
  }
  const literal = (items: ReadonlyArray<string | number>): string => `{${items.join(',')}}`;
  return {
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
