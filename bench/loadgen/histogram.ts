/**
 * Latency histogram in the spirit of HdrHistogram: logarithmic buckets 1 % wide from 1 µs to about
 * 1,000 s, so memory is fixed (a few kB) however long the run, and any percentile is within 1 % of the
 * exact value. Min, max and mean are exact.
 */

const LOWEST_MS = 0.001;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(1_000_000 / LOWEST_MS) / LOG_GROWTH) + 2;

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  private sum = 0;
  min = Infinity;
  max = -Infinity;

  record(ms: number): void {
    if (!(ms >= 0)) return;
    const i = ms <= LOWEST_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log(ms / LOWEST_MS) / LOG_GROWTH));
    this.counts[i] = (this.counts[i] as number) + 1;
    this.count++;
    this.sum += ms;
    if (ms < this.min) this.min = ms;
    if (ms > this.max) this.max = ms;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    this.count += other.count;
    this.sum += other.sum;
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
  }

  /** The value at percentile `p` (0..100): the upper edge of its bucket, clamped to the exact min and max. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) {
        const upper = i === 0 ? LOWEST_MS : LOWEST_MS * Math.pow(GROWTH, i);
        return Math.min(this.max, Math.max(this.min, upper));
      }
    }
    return this.max;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      min: this.count === 0 ? Number.NaN : this.min,
      mean: this.count === 0 ? Number.NaN : this.sum / this.count,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p95: this.percentile(95),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: this.count === 0 ? Number.NaN : this.max,
    };
  }
}
