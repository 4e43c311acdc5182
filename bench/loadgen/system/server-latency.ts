/**
 * The gateway's own view of request latency (its `http_request_duration_seconds` histogram, from the
 * request reaching Fastify to the response written), so a bench can tell time spent in the server from
 * time spent queueing in front of it or in the load generator. Cumulative buckets are read from the
 * Prometheus text before and after a run and subtracted: the quantiles are those of the run alone.
 */

/** Cumulative bucket counts per route (`METHOD route`), keyed by upper bound in seconds (+Inf last). */
export type RouteBuckets = Map<string, Map<number, number>>;

const LINE = /^http_request_duration_seconds_bucket\{([^}]*)\}\s+([0-9.e+-]+)$/;

/** The histogram's buckets in Prometheus text, summed over status codes. */
export function parseRouteBuckets(text: string): RouteBuckets {
  const out: RouteBuckets = new Map();
  for (const line of text.split('\n')) {
    const m = LINE.exec(line.trim());
    if (m === null) continue;
    const labels = Object.fromEntries([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const route = `${labels.method ?? '?'} ${labels.route ?? '?'}`;
    const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
    const buckets = out.get(route) ?? new Map<number, number>();
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
    out.set(route, buckets);
  }
  return out;
}

/** after - before, per route and bucket. */
export function subtractBuckets(after: RouteBuckets, before: RouteBuckets): RouteBuckets {
  const out: RouteBuckets = new Map();
  for (const [route, buckets] of after) {
    const earlier = before.get(route);
    out.set(route, new Map([...buckets].map(([le, n]) => [le, n - (earlier?.get(le) ?? 0)])));
  }
  return out;
}

/**
 * The `q` quantile (0-1) of one route's buckets, in ms, interpolated linearly within its bucket as
 * Prometheus' histogram_quantile does; Infinity when it falls in the +Inf bucket, NaN without requests.
 */
export function bucketQuantileMs(buckets: Map<number, number>, q: number): number {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return Number.NaN;
  const rank = q * total;
  let [prevBound, prevCount] = [0, 0];
  for (const le of bounds) {
    const count = buckets.get(le) ?? 0;
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
      const within = count === prevCount ? 0 : (rank - prevCount) / (count - prevCount);
      return (prevBound + (le - prevBound) * within) * 1_000;
    }
    [prevBound, prevCount] = [le, count];
  }
  return Number.POSITIVE_INFINITY;
}

/** One line per route with requests: count, p50 and p99 as the server measured them. */
export function serverLatencyLines(run: RouteBuckets): string[] {
  const lines: string[] = [];
  for (const [route, buckets] of [...run].sort((a, b) => a[0].localeCompare(b[0]))) {
    const n = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
    if (n <= 0) continue;
    const ms = (q: number): string => bucketQuantileMs(buckets, q).toFixed(1);
    lines.push(`${route}: ${n} requests, server-side p50 ${ms(0.5)} ms, p99 ${ms(0.99)} ms`);
  }
  return lines;
}
