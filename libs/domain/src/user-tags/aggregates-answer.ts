import { formatBucket, minuteBucketsOf } from '../time/minute-bucket';
import { AggregateRow } from '../ports/aggregate-store.port';
import { AggregatesQuery } from './queries';

export interface AggregatesAnswer {
  columns: string[];
  rows: string[][];
}

const FILTER_COLUMNS = ['origin', 'brand_id', 'category_id'] as const;

/**
 * The answer to an aggregates query: one row per minute bucket of the range in time order, empty
 * buckets included as "0", filter columns for the filters present (order: origin, brand_id,
 * category_id), aggregate columns in the query's order, every value a string.
 */
export function aggregatesAnswer(query: AggregatesQuery, stored: readonly AggregateRow[]): AggregatesAnswer {
  const byBucket = new Map(stored.map((r) => [r.bucketMs, r]));
  const filterColumns = FILTER_COLUMNS.filter((f) => query.filters[f] !== undefined);
  const filterValues = filterColumns.map((f) => query.filters[f]!);
  const columns = [
    '1m_bucket',
    'action',
    ...filterColumns,
    ...query.aggregates.map((a) => (a === 'COUNT' ? 'count' : 'sum_price')),
  ];
  const rows = minuteBucketsOf(query.range).map((bucketMs) => {
    const row = byBucket.get(bucketMs);
    const values = query.aggregates.map((a) =>
      String(row === undefined ? 0n : a === 'COUNT' ? row.count : row.sumPrice),
    );
    return [formatBucket(bucketMs), query.action, ...filterValues, ...values];
  });
  return { columns, rows };
}
