/**
 * Throughput of PgAggregateStore.flush: minute-cube rows upserted per second, and the tags per
 * second that amounts to, as in a pipeline catching up on a backlog.
 *
 *   npx tsx bench/persistence/cube-flush.bench.ts [--tags=1000000] [--tags-per-flush=50000]
 *       [--partitions=4] [--event-rate=5000] [--durable=true] [--max-seconds=300]
 *
 * Starts its own PostgreSQL (scripts/servers/postgres-server.ts; --durable=true keeps fsync and full
 * page writes on, as production would), creates the schema by the real migrations, then flushes
 * `tags` synthetic tags (cube-workload.ts) in flushes of `tags-per-flush`, each one transaction of
 * offsets and upserts. Accumulating (the pipeline's part: 8 cells per tag, merged per partition) is
 * timed apart from the store's flush. Stops after `max-seconds` whatever is left.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartitionDelta } from '@lib/domain';
import { closeDataSource, createDataSource, PgAggregateStore } from '@lib/persistence';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { postgresCpuSeconds } from './cpu-usage';
import { accumulate, DEFAULT_WORKLOAD, TagGenerator } from './cube-workload';

function option(name: string, fallback: number): number;
function option(name: string, fallback: boolean): boolean;
function option(name: string, fallback: number | boolean): number | boolean {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const raw = arg.slice(name.length + 3);
  if (typeof fallback === 'boolean') return raw === 'true';
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${raw}`);
  return value;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const totalTags = option('tags', 1_000_000);
  const tagsPerFlush = option('tags-per-flush', 50_000);
  const partitions = option('partitions', 4);
  const eventRate = option('event-rate', 5_000);
  const durable = option('durable', true);
  const maxSeconds = option('max-seconds', 300);

  const dataDir = durable ? mkdtempSync(join(tmpdir(), 'cube-flush-pg-')) : undefined;
  const server = await PostgresServer.start(dataDir ? { dataDir } : {});
  const dataSource = await createDataSource({
    DATABASE_URL: server.url,
    DATABASE_POOL_SIZE: 2,
    DATA_DIR: '/nonexistent',
  });
  try {
    const store = new PgAggregateStore(dataSource);
    const generator = new TagGenerator({ ...DEFAULT_WORKLOAD, eventRate });
    const offsets = new Map<number, string | null>();
    const flushMs: number[] = [];
    let accumulateMs = 0;
    let nodeFlushCpu = 0;
    const pgCpuBefore = postgresCpuSeconds(server.dataDir);
    let tagsDone = 0;
    let rowsUpserted = 0;
    const deadline = Date.now() + maxSeconds * 1_000;

    while (tagsDone < totalTags && Date.now() < deadline) {
      const tags = Math.min(tagsPerFlush, totalTags - tagsDone);
      const a0 = performance.now();
      const deltas = accumulate(generator, tags, partitions);
      accumulateMs += performance.now() - a0;
      const batch: PartitionDelta[] = deltas.map((d, p) => {
        const next = String(tagsDone + tags);
        const delta = { partition: p, expectedOffset: offsets.get(p) ?? null, nextOffset: next, deltas: d };
        offsets.set(p, next);
        return delta;
      });
      rowsUpserted += new Set(
        deltas
          .flat()
          .map(
            (d) =>
              `${d.key.bucketMs}|${d.key.action}|${d.key.dims}|${d.key.origin}|${d.key.brandId}|${d.key.categoryId}`,
          ),
      ).size;
      const f0 = performance.now();
      const c0 = process.cpuUsage();
      const result = await store.flush({ groupId: 'bench', topic: 'user-tags', partitions: batch });
      const cpu = process.cpuUsage(c0);
      nodeFlushCpu += (cpu.user + cpu.system) / 1e6;
      flushMs.push(performance.now() - f0);
      if (result.fenced.length > 0) throw new Error(`unexpected fencing: ${result.fenced.join(',')}`);
      tagsDone += tags;
    }

    // Includes background work the flushes caused (WAL writer, checkpointer), not the row count below.
    const pgCpu = postgresCpuSeconds(server.dataDir) - pgCpuBefore;
    const [{ rows, bytes, version }] = await dataSource.query<{ rows: string; bytes: string; version: string }[]>(
      "SELECT count(*) AS rows, pg_total_relation_size('minute_cube') AS bytes, current_setting('server_version') AS version FROM minute_cube",
    );
    const flushTotal = flushMs.reduce((s, x) => s + x, 0);
    const sorted = [...flushMs].sort((x, y) => x - y);
    const report = {
      bench: 'cube-flush',
      settings: { totalTags, tagsPerFlush, partitions, eventRate, durable },
      machine: { nproc: cpus().length, node: process.version, postgres: version },
      tags: tagsDone,
      flushes: flushMs.length,
      rowsUpserted,
      rowsPerTag: +(rowsUpserted / tagsDone).toFixed(2),
      cubeRows: Number(rows),
      cubeMB: Math.round(Number(bytes) / 1e6),
      flushMs: {
        p50: Math.round(percentile(sorted, 50)),
        p99: Math.round(percentile(sorted, 99)),
        max: Math.round(sorted[sorted.length - 1]),
      },
      storeRowsPerSec: Math.round(rowsUpserted / (flushTotal / 1_000)),
      storeTagsPerSec: Math.round(tagsDone / (flushTotal / 1_000)),
      accumulateTagsPerSec: Math.round(tagsDone / (accumulateMs / 1_000)),
      cpuSeconds: { postgres: +pgCpu.toFixed(1), nodeInFlush: +nodeFlushCpu.toFixed(1) },
      rowsPerPostgresCpuSec: Math.round(rowsUpserted / pgCpu),
      tagsPerPostgresCpuSec: Math.round(tagsDone / pgCpu),
      rowsPerNodeFlushCpuSec: Math.round(rowsUpserted / nodeFlushCpu),
      loadAverage: loadavg().map((x) => +x.toFixed(1)),
      endToEndTagsPerSec: Math.round(tagsDone / ((flushTotal + accumulateMs) / 1_000)),
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await closeDataSource(dataSource);
    await server.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
