import { Tag } from './tag-model';

/**
 * Independent model of the aggregates contract: scans every tag for every query (no cube, no
 * buckets table), so it shares nothing with the product's pre-aggregation.
 */
export interface AggregatesQuery {
  from: string;
  to: string;
  action: 'VIEW' | 'BUY';
  aggregates: ('COUNT' | 'SUM_PRICE')[];
  origin?: string;
  brand_id?: string;
  category_id?: string;
}

export function queryString(q: AggregatesQuery): string {
  const parts = [`time_range=${q.from}_${q.to}`, `action=${q.action}`, ...q.aggregates.map((a) => `aggregates=${a}`)];
  for (const f of ['origin', 'brand_id', 'category_id'] as const) {
    if (q[f] !== undefined) parts.push(`${f}=${encodeURIComponent(q[f])}`);
  }
  return parts.join('&');
}

export function expectedAggregates(tags: readonly Tag[], q: AggregatesQuery): { columns: string[]; rows: string[][] } {
  const filters = (['origin', 'brand_id', 'category_id'] as const).filter((f) => q[f] !== undefined);
  const columns = ['1m_bucket', 'action', ...filters, ...q.aggregates.map((a) => a.toLowerCase())];
  const rows: string[][] = [];
  for (let start = Date.parse(`${q.from}Z`); start < Date.parse(`${q.to}Z`); start += 60_000) {
    let count = 0n;
    let sum = 0n;
    for (const t of tags) {
      const ms = Date.parse(t.time);
      if (ms < start || ms >= start + 60_000 || t.action !== q.action) continue;
      if (q.origin !== undefined && t.origin !== q.origin) continue;
      if (q.brand_id !== undefined && t.product_info.brand_id !== q.brand_id) continue;
      if (q.category_id !== undefined && t.product_info.category_id !== q.category_id) continue;
      count += 1n;
      sum += BigInt(t.product_info.price);
    }
    rows.push([
      new Date(start).toISOString().slice(0, 19),
      q.action,
      ...filters.map((f) => q[f]!),
      ...q.aggregates.map((a) => String(a === 'COUNT' ? count : sum)),
    ]);
  }
  return { columns, rows };
}
