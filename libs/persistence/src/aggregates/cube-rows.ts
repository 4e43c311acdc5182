import { CubeDelta } from '@lib/domain';

/** The cube's action column: a smallint. */
export const ACTION_CODE = { VIEW: 0, BUY: 1 } as const;

/**
 * A flush's cells as the eight array parameters of its upsert, as PostgreSQL array literals (`{1,2}`),
 * built here rather than by `pg` from JS arrays, whose generic serializer costs twice as much. Origin,
 * brand and category go as their ids in the cube_dimension dictionary (`idOf`, given the value as the
 * client sent it; 0 for the unfixed ''), the action as its ACTION_CODE.
 *
 * The deltas of all the flush's partitions are summed per cell and sorted by the primary key here, in
 * the client: INSERT ... ON CONFLICT DO UPDATE refuses to touch a row twice, and concurrent flushes
 * then lock shared cells in one order (no deadlock). The statement gets one element per cell, not one
 * per partition's delta (about 18 % fewer), and PostgreSQL neither groups nor sorts: about a fifth less
 * of its CPU per flushed tag, for about the same in the client (bench/RESULTS.md, issue 14's sixth pass).
 */
export interface CubeColumns {
  readonly bucketMs: string;
  readonly action: string;
  readonly dims: string;
  readonly origin: string;
  readonly brand: string;
  readonly category: string;
  readonly count: string;
  readonly sumPrice: string;
  /** Rows (distinct cells). */
  readonly rows: number;
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
 * The cells of `groups` (deltas of one cell summed, whatever partition they come from), sorted by the
 * cube's primary key (action, dims, origin, brand, category, bucket), as array literals; each key is
 * checked, and a fixed dimension's value goes as `idOf(value)`, the id of the dictionary's entry for
 * keyText(value) (the caller caches them).
 */
export function toColumns(
  groups: Iterable<{ readonly deltas: readonly CubeDelta[] }>,
  idOf: (value: string) => number,
): CubeColumns {
  const id = (value: string): number => (value === '' ? 0 : idOf(value));
  let n = 0;
  for (const group of groups) n += group.deltas.length;
  // The key as integer columns, one entry per delta; sorted through a permutation.
  const action = new Int32Array(n);
  const dims = new Int32Array(n);
  const origin = new Int32Array(n);
  const brand = new Int32Array(n);
  const category = new Int32Array(n);
  const bucketMs = new Float64Array(n);
  // What the merge adds, read here in the deltas' order (a walk of scattered objects in sorted order
  // is cache misses): a sum outside the exact range of doubles is NaN here and read from its delta.
  const counts = new Float64Array(n);
  const sums = new Float64Array(n);
  const deltas: CubeDelta[] = new Array<CubeDelta>(n);
  let i = 0;
  for (const group of groups) {
    for (const d of group.deltas) {
      const k = d.key;
      checkKey(k);
      if (!Number.isSafeInteger(d.count)) throw new RangeError(`malformed delta count ${d.count}`);
      action[i] = ACTION_CODE[k.action];
      dims[i] = k.dims;
      origin[i] = id(k.origin);
      brand[i] = id(k.brandId);
      category[i] = id(k.categoryId);
      bucketMs[i] = k.bucketMs;
      counts[i] = d.count;
      const sum = Number(d.sumPrice);
      sums[i] = Number.isSafeInteger(sum) ? sum : NaN;
      deltas[i] = d;
      i++;
    }
  }
  const order = new Uint32Array(n);
  for (let j = 0; j < n; j++) order[j] = j;
  order.sort(
    (a, b) =>
      action[a] - action[b] ||
      dims[a] - dims[b] ||
      origin[a] - origin[b] ||
      brand[a] - brand[b] ||
      category[a] - category[b] ||
      bucketMs[a] - bucketMs[b],
  );
  const same = (a: number, b: number): boolean =>
    action[a] === action[b] &&
    dims[a] === dims[b] &&
    origin[a] === origin[b] &&
    brand[a] === brand[b] &&
    category[a] === category[b] &&
    bucketMs[a] === bucketMs[b];
  // Each literal is built by concatenation as the rows come: V8 keeps the pieces as a rope and
  // flattens it once when pg writes it, several times cheaper than pushing into arrays and joining.
  let buckets = '';
  let actions = '';
  let masks = '';
  let origins = '';
  let brands = '';
  let categories = '';
  let countList = '';
  let sumList = '';
  let rows = 0;
  for (let k = 0; k < n; rows++) {
    const first = order[k];
    let count = counts[first];
    let sum = sums[first];
    // The exact sum once it leaves the exact range of doubles (or a delta's does).
    let big = Number.isNaN(sum) ? deltas[first].sumPrice : undefined;
    for (k++; k < n && same(first, order[k]); k++) {
      const j = order[k];
      count += counts[j];
      if (big === undefined) {
        const next = sum + sums[j];
        if (Number.isSafeInteger(next)) {
          sum = next;
          continue;
        }
        big = BigInt(sum);
      }
      big += deltas[j].sumPrice;
    }
    if (!Number.isSafeInteger(count)) throw new RangeError(`cell count ${count} past 2^53`);
    const sep = rows === 0 ? '' : ',';
    buckets += sep + bucketMs[first];
    actions += sep + action[first];
    masks += sep + dims[first];
    origins += sep + origin[first];
    brands += sep + brand[first];
    categories += sep + category[first];
    countList += sep + count;
    sumList += sep + (big === undefined ? sum : big);
  }
  return {
    bucketMs: `{${buckets}}`,
    action: `{${actions}}`,
    dims: `{${masks}}`,
    origin: `{${origins}}`,
    brand: `{${brands}}`,
    category: `{${categories}}`,
    count: `{${countList}}`,
    sumPrice: `{${sumList}}`,
    rows,
  };
}
