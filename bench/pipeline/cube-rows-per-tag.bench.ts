/**
 * How many cube rows a flush writes per tag, by how many tags it covers: the loadgen's stream (seed 7,
 * 1 ms apart) counted by the pipeline's own MinuteCubeAccumulator into `--partitions` partitions, and
 * each flush's deltas laid out by the store's `toColumns` (one row per cell, summed over partitions).
 * No server: this is the shape of the work, which PostgreSQL then pays ~10 µs a row for (RESULTS.md).
 *
 *   npx tsx bench/pipeline/cube-rows-per-tag.bench.ts [--tags 300000] [--partitions 4] [--per-flush 5000,10000,15000,25000,60000]
 */
import { parseArgs } from 'node:util';
import type { UserTag } from '@lib/domain';
import { MinuteCubeAccumulator } from '../../apps/pipeline/src/aggregates/minute-cube.accumulator';
import { toColumns } from '../../libs/persistence/src/aggregates/cube-rows';
import { DEFAULT_STREAM, TagStream } from '../loadgen/tag-stream';

const { values: args } = parseArgs({
  options: {
    tags: { type: 'string', default: '300000' },
    partitions: { type: 'string', default: '4' },
    'per-flush': { type: 'string', default: '5000,10000,15000,25000,60000' },
  },
});
const total = Number(args.tags);
const partitions = Number(args.partitions);
const sizes = (args['per-flush'] ?? '').split(',').map(Number);

/** A stable partition of a cookie (any hash will do: it decides only which cells share a partition). */
function partitionOf(cookie: string): number {
  let h = 0;
  for (let i = 0; i < cookie.length; i++) h = (Math.imul(h, 31) + cookie.charCodeAt(i)) | 0;
  return (h >>> 0) % partitions;
}

function measure(perFlush: number): { deltas: number; rows: number } {
  const stream = new TagStream({ ...DEFAULT_STREAM, seed: 7 });
  const acc = new MinuteCubeAccumulator('bench', 'user-tags');
  const offsets = new Array<number>(partitions).fill(0);
  for (let p = 0; p < partitions; p++) acc.assign(p, null);
  const ids = new Map<string, number>();
  const idOf = (value: string): number => {
    let id = ids.get(value);
    if (id === undefined) ids.set(value, (id = ids.size + 1));
    return id;
  };
  let deltas = 0;
  let rows = 0;
  const flush = (): void => {
    const snapshot = acc.take();
    if (snapshot === undefined) return;
    for (const p of snapshot.flush.partitions) deltas += p.deltas.length;
    rows += toColumns(snapshot.flush.partitions, idOf).rows;
  };
  for (let i = 1; i <= total; i++) {
    const tag = stream.next().body as UserTag;
    const p = partitionOf(tag.cookie);
    acc.add(p, String(offsets[p]++), tag);
    if (i % perFlush === 0) flush();
  }
  flush();
  return { deltas, rows };
}

console.log(`cube rows a tag: ${total.toLocaleString('en-US')} tags of the loadgen's stream, ${partitions} partitions`);
console.log('| tags per flush | deltas a tag (one per partition and cell) | rows a tag (one per cell) |');
console.log('| -------------: | ----------------------------------------: | ------------------------: |');
for (const size of sizes) {
  const { deltas, rows } = measure(size);
  console.log(
    `| ${size.toLocaleString('en-US').padStart(14)} | ${(deltas / total).toFixed(2).padStart(41)} | ${(rows / total).toFixed(2).padStart(25)} |`,
  );
}
