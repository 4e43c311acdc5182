/**
 * The profile store's own cost under the loadgen's cookie popularity (Zipf: a few cookies with thousands
 * of tags, most seen once): CPU per appended tag and per read, PostgreSQL's (from /proc) and the client's.
 *
 *   npx tsx bench/persistence/profile-zipf.bench.ts [--batch=20] [--batches=3000] [--reads=20000]
 *
 * Starts its own PostgreSQL (durable, fsync on), warms up with 200 batches, then appends `batches`
 * batches of `batch` tags of the seeded stream (seed 7, one at a time, as one pipeline does) and reads
 * `reads` profiles of cookies drawn from the same popularity (a 1-hour range reaching past every tag,
 * limit 200), one at a time. Runs on any commit whose PgProfileStore has append/read: the same command
 * measured the per-tag table before issue 14 and the lists after it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserTag } from '@lib/domain';
import { closeDataSource, createDataSource, PgProfileStore } from '@lib/persistence';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { defaultStream } from '../loadgen/loadgen';
import { TagStream } from '../loadgen/tag-stream';
import { postgresCpuSeconds, processCpuSeconds } from './cpu-usage';

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const value = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`);
  return value;
}

async function main(): Promise<void> {
  const batch = option('batch', 20);
  const batches = option('batches', 3_000);
  const reads = option('reads', 20_000);
  const pgDir = mkdtempSync(join(tmpdir(), 'profile-zipf-pg-'));
  const server = await PostgresServer.start({ dataDir: pgDir });
  const dataSource = await createDataSource({
    DATABASE_URL: server.url,
    DATABASE_POOL_SIZE: 4,
    DATA_DIR: '/nonexistent',
  });
  try {
    const store = new PgProfileStore(dataSource);
    const stream = new TagStream(defaultStream(7));
    const next = (): UserTag[] => Array.from({ length: batch }, () => stream.next().body as unknown as UserTag);
    for (let i = 0; i < 200; i++) await store.append(next());

    let pg = postgresCpuSeconds(pgDir);
    let client = process.cpuUsage();
    let wall = Date.now();
    for (let i = 0; i < batches; i++) await store.append(next());
    const tags = batch * batches;
    const append = {
      tags,
      wallUsPerTag: ((Date.now() - wall) * 1e3) / tags,
      postgresUsPerTag: ((postgresCpuSeconds(pgDir) - pg) * 1e6) / tags,
      clientUsPerTag: (processCpuSeconds(client) * 1e6) / tags,
    };

    const readers = new TagStream(defaultStream(7));
    const range = { fromMs: Date.UTC(2022, 0, 1), toMs: Date.UTC(2023, 0, 1) };
    pg = postgresCpuSeconds(pgDir);
    client = process.cpuUsage();
    wall = Date.now();
    for (let i = 0; i < reads; i++) await store.read(readers.next().cookie, range, 200);
    const read = {
      reads,
      wallUsPerRead: ((Date.now() - wall) * 1e3) / reads,
      postgresUsPerRead: ((postgresCpuSeconds(pgDir) - pg) * 1e6) / reads,
      clientUsPerRead: (processCpuSeconds(client) * 1e6) / reads,
    };
    const f = (n: number): string => n.toFixed(1);
    console.log(
      `appends: ${tags} tags in batches of ${batch}: PostgreSQL ${f(append.postgresUsPerTag)} µs/tag, client ${f(append.clientUsPerTag)} µs/tag, wall ${f(append.wallUsPerTag)} µs/tag`,
    );
    console.log(
      `reads: ${reads} (limit 200): PostgreSQL ${f(read.postgresUsPerRead)} µs/read, client ${f(read.clientUsPerRead)} µs/read, wall ${f(read.wallUsPerRead)} µs/read`,
    );
    console.log(`RESULT ${JSON.stringify({ bench: 'profile-zipf', batch, append, read })}`);
  } finally {
    await closeDataSource(dataSource);
    await server.stop();
    rmSync(pgDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
