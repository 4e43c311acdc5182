import { CubeDelta } from '@lib/domain';
import { keyText } from '../key-text';

/**
 * Deltas merged per cube cell and laid out as the column arrays of one `unnest` upsert.
 *
 * Merging matters twice over: INSERT ... ON CONFLICT DO UPDATE refuses to touch one row twice in a
 * statement, and every merged delta is one row less to write. Rows are sorted by the primary key
 * (action, dims, origin, brand_id, category_id, bucket_ms) so that the index is walked in order
 * (locality) and two flushes touching the same cells take their row locks in the same order
 * (no deadlock).
 */
export interface CubeColumns {
  readonly bucketMs: number[];
  readonly action: string[];
  readonly dims: number[];
  readonly origin: string[];
  readonly brandId: string[];
  readonly categoryId: string[];
  readonly count: number[];
  /** Decimal text: sums are bigint and `pg` sends bigint[] parameters as text anyway. */
  readonly sumPrice: string[];
}

export interface CubeCell {
  readonly delta: CubeDelta;
  count: number;
  sumPrice: bigint;
}

/**
 * A cell's identity as one string. Client text may contain any character, so the texts are not
 * joined by a separator (which a value could contain) but prefixed by their lengths.
 */
function cellKey(d: CubeDelta): string {
  const k = d.key;
  return `${k.action}|${k.dims}|${k.bucketMs}|${k.origin.length}|${k.brandId.length}|${k.origin}${k.brandId}${k.categoryId}`;
}

function compareCells(a: CubeCell, b: CubeCell): number {
  const x = a.delta.key;
  const y = b.delta.key;
  if (x.action !== y.action) return x.action < y.action ? -1 : 1;
  if (x.dims !== y.dims) return x.dims - y.dims;
  if (x.origin !== y.origin) return x.origin < y.origin ? -1 : 1;
  if (x.brandId !== y.brandId) return x.brandId < y.brandId ? -1 : 1;
  if (x.categoryId !== y.categoryId) return x.categoryId < y.categoryId ? -1 : 1;
  return x.bucketMs - y.bucketMs;
}

/** Merges deltas of any number of partitions into one row per cell, in key order. */
export function mergeCubeDeltas(groups: Iterable<readonly CubeDelta[]>): CubeCell[] {
  const cells = new Map<string, CubeCell>();
  for (const deltas of groups) {
    for (const d of deltas) {
      const key = cellKey(d);
      const cell = cells.get(key);
      if (cell) {
        cell.count += d.count;
        cell.sumPrice += d.sumPrice;
      } else {
        cells.set(key, { delta: d, count: d.count, sumPrice: d.sumPrice });
      }
    }
  }
  return [...cells.values()].sort(compareCells);
}

/** Column arrays of cells[from, to), client text made safe for key columns (key-text.ts). */
export function toColumns(cells: readonly CubeCell[], from = 0, to = cells.length): CubeColumns {
  const n = to - from;
  const cols: CubeColumns = {
    bucketMs: new Array<number>(n),
    action: new Array<string>(n),
    dims: new Array<number>(n),
    origin: new Array<string>(n),
    brandId: new Array<string>(n),
    categoryId: new Array<string>(n),
    count: new Array<number>(n),
    sumPrice: new Array<string>(n),
  };
  for (let i = 0; i < n; i++) {
    const c = cells[from + i];
    const k = c.delta.key;
    cols.bucketMs[i] = k.bucketMs;
    cols.action[i] = k.action;
    cols.dims[i] = k.dims;
    cols.origin[i] = keyText(k.origin);
    cols.brandId[i] = keyText(k.brandId);
    cols.categoryId[i] = keyText(k.categoryId);
    cols.count[i] = c.count;
    cols.sumPrice[i] = c.sumPrice.toString();
  }
  return cols;
}
