/**
 * Per-second series of a run, for the HTML report: how much was sent and answered, and latency
 * percentiles, second by second. Raw latencies are kept only for the seconds still open, so memory does
 * not grow with the rate; a second is summarised once responses have moved two seconds past it.
 */

export type Endpoint = 'user_tags' | 'user_profiles' | 'aggregates';
export const ENDPOINTS: readonly Endpoint[] = ['user_tags', 'user_profiles', 'aggregates'];

export interface SecondPoint {
  /** Seconds since the start of the run. */
  t: number;
  sent: Record<Endpoint, number>;
  ok: Record<Endpoint, number>;
  errors: number;
  wrong: number;
  /** Latency of the responses completed in this second, ms (null: none). */
  p50: Record<Endpoint, number | null>;
  p99: Record<Endpoint, number | null>;
  max: Record<Endpoint, number | null>;
}

const zeros = (): Record<Endpoint, number> => ({ user_tags: 0, user_profiles: 0, aggregates: 0 });

interface OpenSecond {
  point: SecondPoint;
  samples: Record<Endpoint, number[]>;
}

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export class Timeline {
  private readonly closed: SecondPoint[] = [];
  private readonly open = new Map<number, OpenSecond>();
  /** Every second before this one is summarised. */
  private closedUpTo = 0;

  constructor(private readonly t0: number) {}

  private at(nowMs: number): OpenSecond {
    // A straggler for an already summarised second is counted in the oldest open one.
    const t = Math.max(this.closedUpTo, Math.floor((nowMs - this.t0) / 1000));
    let s = this.open.get(t);
    if (s === undefined) {
      s = {
        point: { t, sent: zeros(), ok: zeros(), errors: 0, wrong: 0, p50: nulls(), p99: nulls(), max: nulls() },
        samples: { user_tags: [], user_profiles: [], aggregates: [] },
      };
      this.open.set(t, s);
    }
    if (t - 2 > this.closedUpTo) this.closeBefore(t - 2);
    return s;
  }

  sent(endpoint: Endpoint, nowMs: number): void {
    this.at(nowMs).point.sent[endpoint]++;
  }

  answered(endpoint: Endpoint, nowMs: number, latencyMs: number, ok: boolean): void {
    const s = this.at(nowMs);
    if (ok) s.point.ok[endpoint]++;
    else s.point.errors++;
    s.samples[endpoint].push(latencyMs);
  }

  wrong(nowMs: number): void {
    this.at(nowMs).point.wrong++;
  }

  private closeBefore(limit: number): void {
    const ready = [...this.open.keys()].filter((t) => t < limit).sort((a, b) => a - b);
    for (const t of ready) {
      const s = this.open.get(t) as OpenSecond;
      this.open.delete(t);
      for (const e of ENDPOINTS) {
        const sorted = s.samples[e].sort((a, b) => a - b);
        s.point.p50[e] = quantile(sorted, 0.5);
        s.point.p99[e] = quantile(sorted, 0.99);
        s.point.max[e] = sorted.length > 0 ? (sorted[sorted.length - 1] as number) : null;
      }
      this.closed.push(s.point);
    }
    this.closedUpTo = Math.max(this.closedUpTo, limit);
  }

  /** Every second so far, summarised, with empty seconds filled in. Call once, at the end. */
  points(): SecondPoint[] {
    const newest = Math.max(this.closedUpTo - 1, ...this.open.keys());
    this.closeBefore(newest + 1);
    const byT = new Map(this.closed.map((p) => [p.t, p]));
    const out: SecondPoint[] = [];
    for (let t = 0; t <= newest; t++) {
      out.push(
        byT.get(t) ?? { t, sent: zeros(), ok: zeros(), errors: 0, wrong: 0, p50: nulls(), p99: nulls(), max: nulls() },
      );
    }
    return out;
  }
}

function nulls(): Record<Endpoint, number | null> {
  return { user_tags: null, user_profiles: null, aggregates: null };
}
