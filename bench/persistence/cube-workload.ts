import { Action, CubeDelta, cubeKeysOfTag, minuteBucketOf } from '@lib/domain';

/**
 * Synthetic user tags at the cardinalities (1,000 origins, 250 brands, 67 categories),
 * uniformly drawn: the worst case for in-memory merging, so rows per tag are at their highest.
 */
export interface WorkloadOptions {
  readonly origins: number;
  readonly brands: number;
  readonly categories: number;
  /** Share of BUY among tags. */
  readonly buyShare: number;
  /** Tags per second of event time: how fast event time advances from tag to tag. */
  readonly eventRate: number;
  readonly startMs: number;
  readonly seed: number;
}

export const DEFAULT_WORKLOAD: WorkloadOptions = {
  origins: 1_000,
  brands: 250,
  categories: 67,
  buyShare: 0.2,
  eventRate: 5_000,
  startMs: Date.parse('2026-11-01T00:00:00Z'),
  seed: 1,
};

export class TagGenerator {
  private state: number;
  private index = 0;

  constructor(private readonly options: WorkloadOptions = DEFAULT_WORKLOAD) {
    this.state = options.seed >>> 0 || 1;
  }

  /** xorshift32: fast and reproducible. */
  private random(n: number): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % n;
  }

  next(): { bucketMs: number; action: Action; origin: string; brand: string; category: string; price: number } {
    const o = this.options;
    const timeMs = o.startMs + Math.floor((this.index++ * 1_000) / o.eventRate);
    return {
      bucketMs: minuteBucketOf(timeMs),
      action: this.random(1_000) < o.buyShare * 1_000 ? 'BUY' : 'VIEW',
      origin: `origin-${this.random(o.origins)}`,
      brand: `brand-${this.random(o.brands)}`,
      category: `category-${this.random(o.categories)}`,
      price: 1 + this.random(100_000),
    };
  }
}

type Cell = { key: CubeDelta['key']; count: number; sumPrice: bigint };

/**
 * What the pipeline's accumulators hand the store for one flush: `tags` consecutive tags spread
 * over `partitions` (Kafka partitions by cookie, so any tag may land in any of them), each tag's
 * eight cells merged in memory per partition.
 */
export function accumulate(generator: TagGenerator, tags: number, partitions: number): CubeDelta[][] {
  const perPartition = Array.from({ length: partitions }, () => new Map<string, Cell>());
  for (let i = 0; i < tags; i++) {
    const t = generator.next();
    const cells = perPartition[i % partitions];
    for (const key of cubeKeysOfTag(t.bucketMs, t.action, t.origin, t.brand, t.category)) {
      const id = `${key.bucketMs}|${key.action}|${key.dims}|${key.origin}|${key.brandId}|${key.categoryId}`;
      const cell = cells.get(id);
      if (cell) {
        cell.count += 1;
        cell.sumPrice += BigInt(t.price);
      } else {
        cells.set(id, { key, count: 1, sumPrice: BigInt(t.price) });
      }
    }
  }
  return perPartition.map((cells) => [...cells.values()]);
}
