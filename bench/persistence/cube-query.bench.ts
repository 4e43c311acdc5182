/**
 * Latency of PgAggregateStore.query over a cube of `hours` of tags at `rate` tags/s: 10-minute
 * ranges, random action, random filter subset (each of the 8 equally likely), values drawn from
 * the cardinalities (1,000 origins, 250 brands, 67 categories).
 *
 *   npx tsx bench/persistence/cube-query.bench.ts [--hours=24] [--rate=1000] [--queries=3000]
 *       [--concurrency=1] [--max-load-seconds=1800]
 *
 * Starts its own PostgreSQL (scripts/servers/postgres-server.ts), creates the schema by the real
 * migrations, and generates the cube inside PostgreSQL, ten minutes of tags at a time, with
 * GROUP BY CUBE, which is what the pipeline's flushes add up to (indexes are dropped during the load
 * and rebuilt with their migration definitions after it, then VACUUM ANALYZE). Loading stops at
 * `max-load-seconds` and the report says how many hours it holds. Then it times `queries` calls
 * of store.query from the client side (pool round trip included) and prints one query's plan.
 */
import { cpus } from 'node:os';
import { Action, CubeFilters } from '@lib/domain';
import { closeDataSource, createDataSource, PgAggregateStore, WATERMARK_SQL } from '@lib/persistence';
import { PostgresServer } from '../../scripts/servers/postgres-server';

function option(name: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (arg === undefined) return fallback;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

const MINUTE = 60_000;
const CHUNK_MINUTES = 10;
const START = Date.parse('2026-11-01T00:00:00Z');
const CARDINALITY = { origins: 1_000, brands: 250, categories: 67 };

/** Dictionary ids of the bench's values: origin-i is 1 + i, then the brands, then the categories. */
const ORIGIN_ID0 = 1;
const BRAND_ID0 = ORIGIN_ID0 + CARDINALITY.origins;
const CATEGORY_ID0 = BRAND_ID0 + CARDINALITY.brands;
const DICTIONARY_SQL = `
  INSERT INTO cube_dimension (id, value)
  SELECT ${ORIGIN_ID0} + i, 'origin-' || i FROM generate_series(0, ${CARDINALITY.origins - 1}) AS i
  UNION ALL SELECT ${BRAND_ID0} + i, 'brand-' || i FROM generate_series(0, ${CARDINALITY.brands - 1}) AS i
  UNION ALL SELECT ${CATEGORY_ID0} + i, 'category-' || i FROM generate_series(0, ${CARDINALITY.categories - 1}) AS i`;

/** Ten minutes of tags at `rate`/s, grouped into every cube cell they touch. */
const LOAD_SQL = `
  INSERT INTO minute_cube (bucket_ms, action, dims, origin, brand, category, count, sum_price)
  SELECT bucket_ms, action,
         ((1 - GROUPING(origin)) | ((1 - GROUPING(brand)) << 1) | ((1 - GROUPING(category)) << 2))::smallint,
         coalesce(origin, 0), coalesce(brand, 0), coalesce(category, 0), count(*), sum(price)
  FROM (
    SELECT $1::bigint + ((g * 1000) / $3::bigint) / ${MINUTE} * ${MINUTE} AS bucket_ms,
           CASE WHEN random() < 0.2 THEN 1 ELSE 0 END::smallint AS action,
           ${ORIGIN_ID0} + floor(random() * ${CARDINALITY.origins})::int AS origin,
           ${BRAND_ID0} + floor(random() * ${CARDINALITY.brands})::int AS brand,
           ${CATEGORY_ID0} + floor(random() * ${CARDINALITY.categories})::int AS category,
           1 + floor(random() * 100000)::bigint AS price
    FROM generate_series(0::bigint, $2::bigint - 1) AS g
  ) t
  GROUP BY bucket_ms, action, CUBE (origin, brand, category)`;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const hours = option('hours', 24);
  const rate = option('rate', 1_000);
  const queries = option('queries', 3_000);
  const concurrency = option('concurrency', 1);
  const maxLoadSeconds = option('max-load-seconds', 1_800);

  const server = await PostgresServer.start();
  const dataSource = await createDataSource({
    DATABASE_URL: server.url,
    DATABASE_POOL_SIZE: Math.max(2, concurrency),
    DATA_DIR: '/nonexistent',
  });
  try {
    const l0 = Date.now();
    await dataSource.query(DICTIONARY_SQL);
    await dataSource.query(`SELECT setval('cube_dimension_id_seq', ${CATEGORY_ID0 + CARDINALITY.categories})`);
    await dataSource.query('ALTER TABLE minute_cube DROP CONSTRAINT minute_cube_pkey');
    await dataSource.query('DROP INDEX minute_cube_minute_idx');
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await runner.query("SET work_mem = '512MB'");
    let minutesLoaded = 0;
    while (minutesLoaded < hours * 60 && Date.now() - l0 < maxLoadSeconds * 1_000) {
      await runner.query(LOAD_SQL, [START + minutesLoaded * MINUTE, CHUNK_MINUTES * 60 * rate, rate]);
      minutesLoaded += CHUNK_MINUTES;
      if (minutesLoaded % 60 === 0)
        console.error(`loaded ${minutesLoaded / 60} h in ${Math.round((Date.now() - l0) / 1000)} s`);
    }
    await runner.query("SET maintenance_work_mem = '1GB'");
    await runner.query(
      'ALTER TABLE minute_cube ADD CONSTRAINT minute_cube_pkey PRIMARY KEY (action, dims, origin, brand, category, bucket_ms)',
    );
    await runner.query('CREATE INDEX minute_cube_minute_idx ON minute_cube ((bucket_ms / 60000))');
    await runner.query('VACUUM ANALYZE minute_cube');
    await runner.release();
    const loadSeconds = Math.round((Date.now() - l0) / 1_000);

    const [size] = await dataSource.query<{ rows: string; table_mb: string; pkey_mb: string }[]>(
      `SELECT count(*) AS rows, pg_relation_size('minute_cube') / 1000000 AS table_mb,
              pg_relation_size('minute_cube_pkey') / 1000000 AS pkey_mb FROM minute_cube`,
    );

    const store = new PgAggregateStore(dataSource);
    let seed = 12_345;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const spanMinutes = minutesLoaded;
    const nextQuery = () => {
      const mask = random(8);
      const filters: CubeFilters = {
        ...(mask & 1 ? { origin: `origin-${random(CARDINALITY.origins)}` } : {}),
        ...(mask & 2 ? { brand_id: `brand-${random(CARDINALITY.brands)}` } : {}),
        ...(mask & 4 ? { category_id: `category-${random(CARDINALITY.categories)}` } : {}),
      };
      const fromMs = START + random(spanMinutes - CHUNK_MINUTES + 1) * MINUTE;
      const action: Action = random(2) === 0 ? 'VIEW' : 'BUY';
      return { range: { fromMs, toMs: fromMs + 10 * MINUTE }, action, filters };
    };

    // Plans of a query at the newest edge (beyond the statistics), of retention and of its watermark.
    const explain = async (sql: string, params: unknown[]): Promise<string[]> =>
      (await dataSource.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params)).map(
        (p) => p['QUERY PLAN'],
      );
    const edge = START + (spanMinutes - 10) * MINUTE;
    const plans = {
      query: await explain(
        `SELECT bucket_ms, count, sum_price FROM minute_cube
         WHERE action = 0 AND dims = 3 AND origin = ${ORIGIN_ID0 + 7} AND brand = ${BRAND_ID0 + 7} AND category = 0
           AND bucket_ms >= $1 AND bucket_ms < $2 ORDER BY bucket_ms`,
        [edge, edge + 10 * MINUTE],
      ),
      watermarkBucket: await explain(WATERMARK_SQL, [1_000]),
      retentionProbe: await explain('SELECT ctid FROM minute_cube WHERE bucket_ms / 60000 < $1 LIMIT 50000', [
        START / MINUTE + 1,
      ]),
    };

    const latencies: number[] = [];
    let rowsReturned = 0;
    let issued = 0;
    const q0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (issued < queries) {
          issued += 1;
          const query = nextQuery();
          const t0 = performance.now();
          const rows = await store.query(query);
          latencies.push(performance.now() - t0);
          rowsReturned += rows.length;
        }
      }),
    );
    const wall = (performance.now() - q0) / 1_000;
    const sorted = [...latencies].sort((a, b) => a - b);
    const ms = (x: number): number => Math.round(x * 100) / 100;
    console.log(
      JSON.stringify(
        {
          bench: 'cube-query',
          settings: { hours, rate, queries, concurrency },
          machine: { nproc: cpus().length, node: process.version },
          cube: {
            hoursLoaded: spanMinutes / 60,
            rows: Number(size.rows),
            tableMB: Number(size.table_mb),
            pkeyMB: Number(size.pkey_mb),
            loadSeconds,
          },
          latencyMs: {
            p50: ms(percentile(sorted, 50)),
            p90: ms(percentile(sorted, 90)),
            p99: ms(percentile(sorted, 99)),
            max: ms(sorted[sorted.length - 1]),
          },
          queriesPerSec: Math.round(queries / wall),
          meanRowsPerQuery: +(rowsReturned / queries).toFixed(2),
          plans,
        },
        null,
        2,
      ),
    );
  } finally {
    await closeDataSource(dataSource);
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
