/**
 * The minute-cube accumulator alone: 200,000 synthetic tags (1,000 origins, 250 brands, 67 categories, event time
 * 1 ms apart) added to one partition, taken every 50,000 tags as the aggregator's flushes do; CPU per tag.
 *
 *   npx tsx bench/pipeline/accumulator.bench.ts
 */
import { UserTag } from '@lib/domain';
import { MinuteCubeAccumulator } from '../../apps/pipeline/src/aggregates/minute-cube.accumulator';

const N = 200_000;
const tags: UserTag[] = Array.from(
  { length: N },
  (_, i) =>
    ({
      time: new Date(Date.UTC(2022, 2, 1) + i).toISOString(),
      cookie: 'c',
      country: 'PL',
      device: 'PC',
      action: i % 5 === 0 ? 'BUY' : 'VIEW',
      origin: `origin-${(i * 7919) % 1000}`,
      product_info: {
        product_id: i,
        brand_id: `brand-${(i * 104729) % 250}`,
        category_id: `cat-${(i * 31) % 67}`,
        price: (i * 2654435761) % 100000,
      },
    }) as UserTag,
);
for (let round = 0; round < 2; round++) {
  const acc = new MinuteCubeAccumulator('g', 't');
  acc.assign(0, null);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    acc.add(0, String(i), tags[i]);
    if (i % 50_000 === 49_999) acc.take();
  }
  const snap = acc.take();
  const ms = performance.now() - t0;
  console.log(
    `round ${round}: ${((ms * 1000) / N).toFixed(2)} µs per tag${snap === undefined ? '' : ' (with a last take)'}`,
  );
}
