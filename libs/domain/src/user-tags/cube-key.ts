import { Action } from './user-tag';

/**
 * The minute cube: count and sum(price) per (bucket, action, origin, brand_id, category_id), kept
 * for every subset of the three dimensions so any filter combination reads one row per bucket.
 *
 * `dims` says which dimensions a row fixes (bit 0 origin, bit 1 brand_id, bit 2 category_id);
 * an unfixed dimension holds ''. The mask, not a sentinel value, is the "any" marker, so no
 * client value can collide with it.
 */
export const DIM_ORIGIN = 1;
export const DIM_BRAND = 2;
export const DIM_CATEGORY = 4;
export const ALL_DIM_MASKS = [0, 1, 2, 3, 4, 5, 6, 7] as const;

export interface CubeFilters {
  origin?: string;
  brand_id?: string;
  category_id?: string;
}

export interface CubeKey {
  bucketMs: number;
  action: Action;
  dims: number;
  origin: string;
  brandId: string;
  categoryId: string;
}

/** The mask of the dimensions a query filters on. */
export function dimsOf(filters: CubeFilters): number {
  return (
    (filters.origin !== undefined ? DIM_ORIGIN : 0) |
    (filters.brand_id !== undefined ? DIM_BRAND : 0) |
    (filters.category_id !== undefined ? DIM_CATEGORY : 0)
  );
}

/** The key a query reads for one bucket. */
export function cubeKeyOfQuery(bucketMs: number, action: Action, filters: CubeFilters): CubeKey {
  return {
    bucketMs,
    action,
    dims: dimsOf(filters),
    origin: filters.origin ?? '',
    brandId: filters.brand_id ?? '',
    categoryId: filters.category_id ?? '',
  };
}

/** The eight keys one tag adds to, one per subset of its dimensions. */
export function cubeKeysOfTag(
  bucketMs: number,
  action: Action,
  origin: string,
  brandId: string,
  categoryId: string,
): CubeKey[] {
  return ALL_DIM_MASKS.map((dims) => ({
    bucketMs,
    action,
    dims,
    origin: dims & DIM_ORIGIN ? origin : '',
    brandId: dims & DIM_BRAND ? brandId : '',
    categoryId: dims & DIM_CATEGORY ? categoryId : '',
  }));
}
