/**
 * Profile read latency of PgProfileStore while tags are appended: the hot path of
 * POST /user_profiles during ingest, without HTTP and Kafka.
 *
 *   npx tsx bench/persistence/profile-store.bench.ts [--seconds=30] [--reads-per-sec=500]
 *       [--tags-per-sec=5000] [--batch=500] [--cookies=20000] [--embedded=false]
 *
 * Starts its own PostgreSQL (scripts/servers/postgres-server.ts, fsync on), or with --embedded=true
 * the PGlite of the embedded mode. Pre-fills every cookie with a history, then for `seconds` appends
 * `tags-per-sec` tags in batches of `batch` (as the profiles consumer does) and reads
 * `reads-per-sec` random profiles (one-hour range, limit 200). Reads are issued on a fixed schedule,
 * and latency counts from the scheduled time, so a stall shows up as latency, not as fewer reads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserTag } from '@lib/domain';
import { closeDataSource, createDataSource, PgProfileStore } from '@lib/persistence';
import { PostgresServer } from '../../scripts/servers/postgres-server';

function option(name: string, fallback: number): number;
function option(name: string, fallback: boolean): boolean;
function option(name: string, fallback: number | boolean): number | boolean {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const raw = arg.slice(name.length + 3);
  if (typeof fallback === 'boolean') return raw === 'true';
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const seconds = option('seconds', 30);
  const readsPerSec = option('reads-per-sec', 500);
  const tagsPerSec = option('tags-per-sec', 5_000);
  const batch = option('batch', 500);
  const cookies = option('cookies', 20_000);
  const embedded = option('embedded', false);

  const dir = mkdtempSync(join(tmpdir(), 'profile-bench-'));
  // Its own directory: the server runs as the postgres user, who cannot enter `dir`.
  const pgDir = embedded ? undefined : mkdtempSync(join(tmpdir(), 'profile-bench-pg-'));
  const server = pgDir ? await PostgresServer.start({ dataDir: pgDir }) : undefined;
  const dataSource = await createDataSource({ DATABASE_URL: server?.url, DATABASE_POOL_SIZE: 10, DATA_DIR: dir });
  try {
    const store = new PgProfileStore(dataSource);
    let clock = Date.parse('2026-11-01T00:00:00Z');
    let n = 0;
    const tag = (cookie: number): UserTag => {
      n += 1;
      clock += 1;
      return {
        time: new Date(clock).toISOString(),
        cookie: `cookie-${cookie}`,
        country: 'PL',
        device: 'PC',
        action: n % 5 === 0 ? 'BUY' : 'VIEW',
        origin: `origin-${n % 1_000}`,
        product_info: {
          product_id: n,
          brand_id: `brand-${n % 250}`,
          category_id: `category-${n % 67}`,
          price: n % 10_000,
        },
      };
    };
    const randomCookie = (): number => Math.floor(Math.random() * cookies);

    // History: 20 tags per cookie on average.
    for (let i = 0; i < cookies * 20; i += 5_000) {
      await store.append(Array.from({ length: 5_000 }, () => tag(randomCookie())));
    }

    const readLatencies: number[] = [];
    const appendLatencies: number[] = [];
    let tagsAppended = 0;
    let readErrors = 0;
    let firstReadError: string | undefined;
    const start = performance.now();
    const end = start + seconds * 1_000;

    const writer = (async () => {
      const interval = (batch / tagsPerSec) * 1_000;
      for (let due = start; due < end; due += interval) {
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        const t0 = performance.now();
        await store.append(Array.from({ length: batch }, () => tag(randomCookie())));
        appendLatencies.push(performance.now() - t0);
        tagsAppended += batch;
      }
    })();

    const inFlight = new Set<Promise<void>>();
    const readInterval = 1_000 / readsPerSec;
    for (let i = 0; ; i++) {
      const scheduled = start + i * readInterval;
      if (scheduled >= end) break;
      const wait = scheduled - performance.now();
      if (wait > 1) await sleep(wait);
      const to = clock + 1;
      const read = store
        .read(`cookie-${randomCookie()}`, { fromMs: to - 3_600_000, toMs: to }, 200)
        .then(() => {
          readLatencies.push(performance.now() - scheduled);
        })
        .catch((err: Error) => {
          readErrors += 1;
          firstReadError ??= err.message;
        })
        .finally(() => inFlight.delete(read));
      inFlight.add(read);
    }
    await Promise.all([writer, ...inFlight]);
    const elapsed = (performance.now() - start) / 1_000;

    const reads = [...readLatencies].sort((a, b) => a - b);
    const appends = [...appendLatencies].sort((a, b) => a - b);
    const ms = (x: number): number => Math.round(x * 100) / 100;
    console.log(
      JSON.stringify(
        {
          bench: 'profile-store',
          settings: {
            seconds,
            readsPerSec,
            tagsPerSec,
            batch,
            cookies,
            database: embedded ? 'PGlite (embedded)' : 'PostgreSQL',
          },
          machine: { nproc: cpus().length, node: process.version },
          reads: {
            count: reads.length,
            errors: readErrors,
            firstError: firstReadError,
            perSec: Math.round(reads.length / elapsed),
            p50: ms(percentile(reads, 50)),
            p99: ms(percentile(reads, 99)),
            max: ms(reads[reads.length - 1]),
          },
          appends: {
            tagsPerSec: Math.round(tagsAppended / elapsed),
            batchP50: ms(percentile(appends, 50)),
            batchP99: ms(percentile(appends, 99)),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await closeDataSource(dataSource);
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (pgDir) rmSync(pgDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
