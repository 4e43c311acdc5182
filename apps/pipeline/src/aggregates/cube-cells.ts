import { Action, CubeKey, DIM_BRAND, DIM_CATEGORY, DIM_ORIGIN } from '@lib/domain';

/**
 * One cell of the minute cube being accumulated: its key and what the tags added to it. The sum of
 * prices is `carry + BigInt(sum)` ({@link sumPriceOf}): `sum` is a double, exact while its magnitude
 * stays within `exactLimit`, and moves into the bigint `carry` only when the next price would take it
 * past that. Prices are 32-bit integers, so that is after millions of tags in one cell between two
 * flushes; until then adding a tag allocates nothing (a bigint sum allocated a new bigint for each of
 * the tag's 8 cells: a quarter of the pipeline's time went to garbage collection).
 */
export interface Cell {
  readonly key: CubeKey;
  count: number;
  sum: number;
  carry: bigint;
}

/** Magnitude up to which `sum + price` is exact for any 32-bit price: 2^53 - 2^31. */
export const EXACT_SUM_LIMIT = Number.MAX_SAFE_INTEGER - 2 ** 31;

/** The cell's sum of prices, exact. */
export function sumPriceOf(cell: Cell): bigint {
  return cell.sum === 0 ? cell.carry : cell.carry + BigInt(cell.sum);
}

/** Cells under one origin: the origin's own (dims 1), with brand (3), with category (5), all three (7). */
interface OriginNode {
  cell: Cell;
  brands: Map<string, { cell: Cell; categories: Map<string, Cell> }>;
  categories: Map<string, Cell>;
}

/** Cells under one brand without origin: the brand's own (dims 2) and with category (6). */
interface BrandNode {
  cell: Cell;
  categories: Map<string, Cell>;
}

/** The cells of one (bucket, action). */
interface Group {
  readonly bucketMs: number;
  readonly action: Action;
  all: Cell | undefined;
  origins: Map<string, OriginNode>;
  brands: Map<string, BrandNode>;
  categories: Map<string, Cell>;
}

/**
 * The cells of one partition between flushes, nested by bucket, action and dimension values, so
 * that adding a tag to its 8 cells is 8 lookups keyed by the tag's own strings (their hashes are
 * computed once per string) and no key text is built per tag. A flat map keyed by a concatenated
 * id cost ~12 µs per tag, mostly hashing the fresh ids (bench/RESULTS.md).
 */
export class CubeCells {
  /** `exactLimit` is for tests: a small one makes the carry happen. */
  constructor(private readonly exactLimit: number = EXACT_SUM_LIMIT) {}

  private readonly groups = new Map<number, { VIEW?: Group; BUY?: Group }>();
  private readonly list: Cell[] = [];

  /** Cells held. */
  get size(): number {
    return this.list.length;
  }

  /** Every cell, in the order they were created. */
  values(): readonly Cell[] {
    return this.list;
  }

  /** Adds one tag to its 8 cells; `price` is a 32-bit integer. */
  addTag(bucketMs: number, action: Action, origin: string, brandId: string, categoryId: string, price: number): void {
    const g = this.group(bucketMs, action);
    this.add((g.all ??= this.cell(g, 0, '', '', '')), price);

    let o = g.origins.get(origin);
    if (o === undefined) {
      o = { cell: this.cell(g, DIM_ORIGIN, origin, '', ''), brands: new Map(), categories: new Map() };
      g.origins.set(origin, o);
    }
    this.add(o.cell, price);
    let ob = o.brands.get(brandId);
    if (ob === undefined) {
      ob = { cell: this.cell(g, DIM_ORIGIN | DIM_BRAND, origin, brandId, ''), categories: new Map() };
      o.brands.set(brandId, ob);
    }
    this.add(ob.cell, price);
    let obc = ob.categories.get(categoryId);
    if (obc === undefined) {
      obc = this.cell(g, DIM_ORIGIN | DIM_BRAND | DIM_CATEGORY, origin, brandId, categoryId);
      ob.categories.set(categoryId, obc);
    }
    this.add(obc, price);
    let oc = o.categories.get(categoryId);
    if (oc === undefined) {
      oc = this.cell(g, DIM_ORIGIN | DIM_CATEGORY, origin, '', categoryId);
      o.categories.set(categoryId, oc);
    }
    this.add(oc, price);

    let b = g.brands.get(brandId);
    if (b === undefined) {
      b = { cell: this.cell(g, DIM_BRAND, '', brandId, ''), categories: new Map() };
      g.brands.set(brandId, b);
    }
    this.add(b.cell, price);
    let bc = b.categories.get(categoryId);
    if (bc === undefined) {
      bc = this.cell(g, DIM_BRAND | DIM_CATEGORY, '', brandId, categoryId);
      b.categories.set(categoryId, bc);
    }
    this.add(bc, price);
    let c = g.categories.get(categoryId);
    if (c === undefined) {
      c = this.cell(g, DIM_CATEGORY, '', '', categoryId);
      g.categories.set(categoryId, c);
    }
    this.add(c, price);
  }

  private add(cell: Cell, price: number): void {
    cell.count += 1;
    const sum = cell.sum + price;
    if (sum <= this.exactLimit && sum >= -this.exactLimit) {
      cell.sum = sum;
    } else {
      cell.carry += BigInt(cell.sum);
      cell.sum = price;
    }
  }

  /** Adds counted deltas to the cell of `key` (a flush given back). */
  addCell(key: CubeKey, count: number, sumPrice: bigint): void {
    const cell = this.cellOf(key);
    cell.count += count;
    cell.carry += sumPrice;
  }

  /** The cell of `key`, created empty when missing. */
  private cellOf(key: CubeKey): Cell {
    const g = this.group(key.bucketMs, key.action);
    const { origin, brandId: brand, categoryId: category } = key;
    const make = () => this.cell(g, key.dims, origin, brand, category);
    switch (key.dims) {
      case 0:
        return (g.all ??= make());
      case DIM_CATEGORY:
        return child(g.categories, category, make);
      case DIM_BRAND:
      case DIM_BRAND | DIM_CATEGORY: {
        let b = g.brands.get(brand);
        if (b === undefined) {
          b = { cell: this.cell(g, DIM_BRAND, '', brand, ''), categories: new Map() };
          g.brands.set(brand, b);
        }
        return key.dims === DIM_BRAND ? b.cell : child(b.categories, category, make);
      }
      default: {
        let o = g.origins.get(origin);
        if (o === undefined) {
          o = { cell: this.cell(g, DIM_ORIGIN, origin, '', ''), brands: new Map(), categories: new Map() };
          g.origins.set(origin, o);
        }
        if (key.dims === DIM_ORIGIN) return o.cell;
        if (key.dims === (DIM_ORIGIN | DIM_CATEGORY)) return child(o.categories, category, make);
        let ob = o.brands.get(brand);
        if (ob === undefined) {
          ob = { cell: this.cell(g, DIM_ORIGIN | DIM_BRAND, origin, brand, ''), categories: new Map() };
          o.brands.set(brand, ob);
        }
        return key.dims === (DIM_ORIGIN | DIM_BRAND) ? ob.cell : child(ob.categories, category, make);
      }
    }
  }

  private group(bucketMs: number, action: Action): Group {
    let byAction = this.groups.get(bucketMs);
    if (byAction === undefined) {
      byAction = {};
      this.groups.set(bucketMs, byAction);
    }
    let g = byAction[action];
    if (g === undefined) {
      g = { bucketMs, action, all: undefined, origins: new Map(), brands: new Map(), categories: new Map() };
      byAction[action] = g;
    }
    return g;
  }

  /** A new, empty cell (counted in by the caller), listed for values(). */
  private cell(g: Group, dims: number, origin: string, brandId: string, categoryId: string): Cell {
    const cell: Cell = {
      key: { bucketMs: g.bucketMs, action: g.action, dims, origin, brandId, categoryId },
      count: 0,
      sum: 0,
      carry: 0n,
    };
    this.list.push(cell);
    return cell;
  }
}

function child(map: Map<string, Cell>, key: string, make: () => Cell): Cell {
  let cell = map.get(key);
  if (cell === undefined) {
    cell = make();
    map.set(key, cell);
  }
  return cell;
}
