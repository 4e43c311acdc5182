/**
 * Experiment: PostgreSQL and client CPU per tag of candidate minute-cube layouts and flush statements,
 * on the same synthetic flushes (cube-workload.ts), each variant in a fresh database of one server.
 *
 *   npx tsx bench/persistence/cube-flush-variants.bench.ts [--tags=500000] [--tags-per-flush=50000]
 *       [--variants=a,b,...]
 */
import { cpus, loadavg } from 'node:os';
import { CubeDelta } from '@lib/domain';
import { Client } from 'pg';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { toColumns } from '../../libs/persistence/src/aggregates/cube-rows';
import { keyText } from '../../libs/persistence/src/key-text';
import { postgresCpuSeconds } from './cpu-usage';
import { accumulate, DEFAULT_WORKLOAD, TagGenerator } from './cube-workload';

function option(name: string, fallback: string): string {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg === undefined ? fallback : arg.slice(name.length + 3);
}

const TEXT_SCHEMA = `
  CREATE TABLE minute_cube (
    bucket_ms bigint NOT NULL, count bigint NOT NULL, sum_price bigint NOT NULL, dims smallint NOT NULL,
    action text COLLATE "C" NOT NULL, origin text COLLATE "C" NOT NULL, brand_id text COLLATE "C" NOT NULL,
    category_id text COLLATE "C" NOT NULL,
    CONSTRAINT minute_cube_pkey PRIMARY KEY (action, dims, origin, brand_id, category_id, bucket_ms)
  ) WITH (fillfactor = 90)`;
const TEXT_MINUTE_INDEX = 'CREATE INDEX minute_cube_minute_idx ON minute_cube ((bucket_ms / 60000))';
const TEXT_UPSERT = `
  INSERT INTO minute_cube AS c (bucket_ms, action, dims, origin, brand_id, category_id, count, sum_price)
  SELECT bucket_ms, action, dims, origin, brand_id, category_id, sum(count)::bigint, sum(sum_price)::bigint
  FROM unnest($1::bigint[], $2::text[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
    AS d(bucket_ms, action, dims, origin, brand_id, category_id, count, sum_price)
  GROUP BY action, dims, origin, brand_id, category_id, bucket_ms
  ORDER BY action, dims, origin, brand_id, category_id, bucket_ms
  ON CONFLICT (action, dims, origin, brand_id, category_id, bucket_ms) DO UPDATE
    SET count = c.count + excluded.count, sum_price = c.sum_price + excluded.sum_price`;

const INT_COLUMNS = `count bigint NOT NULL, sum_price bigint NOT NULL, minute integer NOT NULL,
    origin integer NOT NULL, brand integer NOT NULL, category integer NOT NULL, action smallint NOT NULL`;
const INT_KEY = 'action, origin, brand, category, minute';
const INT_SCHEMA = `CREATE TABLE minute_cube (${INT_COLUMNS}, PRIMARY KEY (${INT_KEY})) WITH (fillfactor = 90)`;
const INT_MINUTE_INDEX = 'CREATE INDEX minute_cube_minute_idx ON minute_cube ((minute + 0))';
const INT_PARTITIONED = [
  `CREATE TABLE minute_cube (${INT_COLUMNS}, PRIMARY KEY (${INT_KEY})) PARTITION BY RANGE (minute)`,
];
const INT_UPSERT_GROUPED = `
  INSERT INTO minute_cube AS c (minute, action, origin, brand, category, count, sum_price)
  SELECT minute, action, origin, brand, category, sum(count)::bigint, sum(sum_price)::bigint
  FROM unnest($1::int[], $2::smallint[], $3::int[], $4::int[], $5::int[], $6::bigint[], $7::bigint[])
    AS d(minute, action, origin, brand, category, count, sum_price)
  GROUP BY ${INT_KEY} ORDER BY ${INT_KEY}
  ON CONFLICT (${INT_KEY}) DO UPDATE SET count = c.count + excluded.count, sum_price = c.sum_price + excluded.sum_price`;
const INT_UPSERT_MERGED = `
  INSERT INTO minute_cube AS c (minute, action, origin, brand, category, count, sum_price)
  SELECT * FROM unnest($1::int[], $2::smallint[], $3::int[], $4::int[], $5::int[], $6::bigint[], $7::bigint[])
  ON CONFLICT (${INT_KEY}) DO UPDATE SET count = c.count + excluded.count, sum_price = c.sum_price + excluded.sum_price`;

/** Dictionary ids as the store would cache them: 0 is the unfixed marker ''. */
const ids = new Map<string, number>([['', 0]]);
function idOf(value: string): number {
  let id = ids.get(value);
  if (id === undefined) {
    id = ids.size;
    ids.set(value, id);
  }
  return id;
}

interface IntRows {
  minute: Int32Array;
  action: Int16Array;
  origin: Int32Array;
  brand: Int32Array;
  category: Int32Array;
  count: number[];
  sum: bigint[];
  n: number;
}

function toIntRows(groups: readonly CubeDelta[][]): IntRows {
  const total = groups.reduce((s, g) => s + g.length, 0);
  const r: IntRows = {
    minute: new Int32Array(total),
    action: new Int16Array(total),
    origin: new Int32Array(total),
    brand: new Int32Array(total),
    category: new Int32Array(total),
    count: new Array<number>(total),
    sum: new Array<bigint>(total),
    n: total,
  };
  let i = 0;
  for (const g of groups)
    for (const d of g) {
      r.minute[i] = d.key.bucketMs / 60_000;
      r.action[i] = d.key.action === 'BUY' ? 1 : 0;
      r.origin[i] = idOf(d.key.origin);
      r.brand[i] = idOf(d.key.brandId);
      r.category[i] = idOf(d.key.categoryId);
      r.count[i] = d.count;
      r.sum[i] = d.sumPrice;
      i++;
    }
  return r;
}

/** Sorted by key, equal keys merged: what ON CONFLICT needs without GROUP BY / ORDER BY. */
function mergeSorted(r: IntRows, minuteFirst = false): IntRows {
  const order = new Uint32Array(r.n);
  for (let i = 0; i < r.n; i++) order[i] = i;
  order.sort(
    (a, b) =>
      (minuteFirst ? r.minute[a] - r.minute[b] : 0) ||
      r.action[a] - r.action[b] ||
      r.origin[a] - r.origin[b] ||
      r.brand[a] - r.brand[b] ||
      r.category[a] - r.category[b] ||
      r.minute[a] - r.minute[b],
  );
  const out: IntRows = {
    minute: new Int32Array(r.n),
    action: new Int16Array(r.n),
    origin: new Int32Array(r.n),
    brand: new Int32Array(r.n),
    category: new Int32Array(r.n),
    count: [],
    sum: [],
    n: 0,
  };
  let prev = -1;
  for (let k = 0; k < r.n; k++) {
    const i = order[k];
    if (
      prev >= 0 &&
      r.action[i] === r.action[prev] &&
      r.origin[i] === r.origin[prev] &&
      r.brand[i] === r.brand[prev] &&
      r.category[i] === r.category[prev] &&
      r.minute[i] === r.minute[prev]
    ) {
      out.count[out.n - 1] += r.count[i];
      out.sum[out.n - 1] += r.sum[i];
      continue;
    }
    const j = out.n++;
    out.minute[j] = r.minute[i];
    out.action[j] = r.action[i];
    out.origin[j] = r.origin[i];
    out.brand[j] = r.brand[i];
    out.category[j] = r.category[i];
    out.count[j] = r.count[i];
    out.sum[j] = r.sum[i];
    prev = i;
  }
  return out;
}

function literal(a: ArrayLike<number | bigint>, n: number): string {
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = String(a[i]);
  return `{${parts.join(',')}}`;
}

function intParams(r: IntRows): string[] {
  return [
    literal(r.minute, r.n),
    literal(r.action, r.n),
    literal(r.origin, r.n),
    literal(r.brand, r.n),
    literal(r.category, r.n),
    literal(r.count, r.n),
    literal(r.sum, r.n),
  ];
}

/** COPY ... FROM STDIN with one prepared payload (what pg-copy-streams would send). */
function copyIn(client: Client, sql: string, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed: Error | undefined;
    const submittable = {
      submit(connection: { query(text: string): void }) {
        connection.query(sql);
      },
      handleCopyInResponse(connection: { sendCopyFromChunk(b: Buffer): void; endCopyFrom(): void }) {
        connection.sendCopyFromChunk(payload);
        connection.endCopyFrom();
      },
      handleCommandComplete() {},
      handleReadyForQuery() {
        if (failed) reject(failed);
        else resolve();
      },
      handleError(err: Error) {
        failed = err;
      },
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handleCopyData() {},
      handlePortalSuspended() {},
    };
    void (client as unknown as { query(s: unknown): unknown }).query(submittable);
  });
}

function copyText(r: IntRows): Buffer {
  const lines = new Array<string>(r.n);
  for (let i = 0; i < r.n; i++) {
    lines[i] =
      `${r.minute[i]}\t${r.action[i]}\t${r.origin[i]}\t${r.brand[i]}\t${r.category[i]}\t${r.count[i]}\t${r.sum[i]}`;
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}

interface Variant {
  schema: string[];
  flush(client: Client, groups: CubeDelta[][]): Promise<number>;
}

const partitionsFor = (fromMinute: number, hours: number): string[] =>
  Array.from({ length: hours }, (_, h) => {
    const lo = fromMinute + h * 60;
    return `CREATE TABLE minute_cube_${lo} PARTITION OF minute_cube FOR VALUES FROM (${lo}) TO (${lo + 60})`;
  });

const START_MINUTE = DEFAULT_WORKLOAD.startMs / 60_000;

const quoted = (v: string): string => `"${keyText(v).replace(/[\\"]/g, '\\$&')}"`;
const lit = (items: readonly (string | number | bigint)[]): string => `{${items.join(',')}}`;

/** The text-keyed cube's flush (the product's layout until issue 14's fourth pass), without the offsets. */
const textFlush: Variant['flush'] = async (client, groups) => {
  const all = groups.flat();
  await client.query(TEXT_UPSERT, [
    lit(all.map((d) => d.key.bucketMs)),
    lit(all.map((d) => d.key.action)),
    lit(all.map((d) => d.key.dims)),
    lit(all.map((d) => quoted(d.key.origin))),
    lit(all.map((d) => quoted(d.key.brandId))),
    lit(all.map((d) => quoted(d.key.categoryId))),
    lit(all.map((d) => d.count)),
    lit(all.map((d) => d.sumPrice)),
  ]);
  return 0;
};

/** The product's layout since then: ids of cube_dimension (cached here), action a smallint, dims kept. */
const PRODUCT_SCHEMA = [
  `CREATE TABLE minute_cube (bucket_ms bigint NOT NULL, count bigint NOT NULL, sum_price bigint NOT NULL,
     dims smallint NOT NULL, action smallint NOT NULL, origin integer NOT NULL, brand integer NOT NULL,
     category integer NOT NULL, PRIMARY KEY (action, dims, origin, brand, category, bucket_ms)) WITH (fillfactor = 90)`,
  TEXT_MINUTE_INDEX,
];
const productFlush: Variant['flush'] = async (client, groups) => {
  // Summed over the partitions and sorted in the client, as the product's flush does since issue 14's sixth pass.
  const c = toColumns(
    groups.map((deltas) => ({ deltas })),
    (v) => idOf(v),
  );
  await client.query(
    `INSERT INTO minute_cube AS c (bucket_ms, action, dims, origin, brand, category, count, sum_price)
     SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::smallint[], $4::int[], $5::int[], $6::int[],
                          $7::bigint[], $8::bigint[])
     ON CONFLICT (action, dims, origin, brand, category, bucket_ms) DO UPDATE
       SET count = c.count + excluded.count, sum_price = c.sum_price + excluded.sum_price`,
    [c.bucketMs, c.action, c.dims, c.origin, c.brand, c.category, c.count, c.sumPrice],
  );
  return 0;
};

/**
 * Blocks (a design sketch for issue 14, not the product's layout): the sparse cells go into one row
 * per (action, origin or brand, minute, partition) holding all of that row's cells, encoded. The
 * partition's one owner keeps the open minutes' blocks in memory and rewrites a touched block whole
 * (no merge in SQL); dims 0 and category-only cells (few) stay rows of minute_cube. A query with an
 * origin reads one block per partition and minute and sums the cells that match; one with a brand and
 * no origin, the brand's blocks.
 */
const BLOCK_SCHEMA = [
  INT_SCHEMA,
  `CREATE TABLE cube_block (action smallint NOT NULL, kind smallint NOT NULL, id integer NOT NULL,
     minute integer NOT NULL, part smallint NOT NULL, cells bytea NOT NULL,
     PRIMARY KEY (action, kind, id, minute, part)) WITH (fillfactor = 70)`,
];
const BLOCK_UPSERT = `
  INSERT INTO cube_block AS b (action, kind, id, minute, part, cells)
  SELECT t.action, t.kind, t.id, t.minute, t.part, substring($7::bytea from t.at + 1 for t.len)
  FROM unnest($1::smallint[], $2::smallint[], $3::int[], $4::int[], $5::smallint[], $6::int[], $8::int[])
    AS t(action, kind, id, minute, part, at, len)
  ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT (action, kind, id, minute, part) DO UPDATE SET cells = excluded.cells`;
/** Per block key, its cells: cell key (dims, brand, category) → [count, sum]. */
const blocks = new Map<string, Map<number, [number, bigint]>>();

const blocksFlush: Variant['flush'] = async (client, groups) => {
  const small: CubeDelta[][] = [];
  const touched = new Set<string>();
  groups.forEach((deltas, part) => {
    const rest: CubeDelta[] = [];
    for (const d of deltas) {
      const k = d.key;
      const hasOrigin = (k.dims & 1) !== 0;
      const hasBrand = (k.dims & 2) !== 0;
      if (!hasOrigin && !hasBrand) {
        rest.push(d);
        continue;
      }
      const action = k.action === 'BUY' ? 1 : 0;
      const blockKey = hasOrigin
        ? `${action},0,${idOf(k.origin)},${k.bucketMs / 60_000},${part}`
        : `${action},1,${idOf(k.brandId)},${k.bucketMs / 60_000},${part}`;
      let cells = blocks.get(blockKey);
      if (cells === undefined) {
        cells = new Map();
        blocks.set(blockKey, cells);
      }
      const cellKey = k.dims * 2 ** 40 + idOf(k.brandId) * 2 ** 20 + idOf(k.categoryId);
      const cell = cells.get(cellKey);
      if (cell === undefined) cells.set(cellKey, [d.count, d.sumPrice]);
      else {
        cell[0] += d.count;
        cell[1] += d.sumPrice;
      }
      touched.add(blockKey);
    }
    small.push(rest);
  });
  const cols: number[][] = [[], [], [], [], [], [], []];
  const buffers: Buffer[] = [];
  let at = 0;
  for (const blockKey of touched) {
    const cells = blocks.get(blockKey) as Map<number, [number, bigint]>;
    const buf = Buffer.allocUnsafe(cells.size * 24);
    let o = 0;
    for (const [cellKey, [count, sum]] of cells) {
      buf.writeUInt32LE(cellKey % 2 ** 20, o);
      buf.writeUInt32LE(Math.floor(cellKey / 2 ** 20) % 2 ** 20, o + 4);
      buf.writeUInt32LE(Math.floor(cellKey / 2 ** 40), o + 8);
      buf.writeUInt32LE(count, o + 12);
      buf.writeBigInt64LE(sum, o + 16);
      o += 24;
    }
    const [action, kind, id, minute, part] = blockKey.split(',').map(Number);
    cols[0].push(action);
    cols[1].push(kind);
    cols[2].push(id);
    cols[3].push(minute);
    cols[4].push(part);
    cols[5].push(at);
    cols[6].push(buf.length);
    buffers.push(buf);
    at += buf.length;
  }
  await client.query(BLOCK_UPSERT, [
    lit(cols[0]),
    lit(cols[1]),
    lit(cols[2]),
    lit(cols[3]),
    lit(cols[4]),
    lit(cols[5]),
    Buffer.concat(buffers),
    lit(cols[6]),
  ]);
  await client.query(INT_UPSERT_MERGED, intParams(mergeSorted(toIntRows(small))));
  return 0;
};

const variants: Record<string, Variant> = {
  textTwoIndexes: {
    schema: [TEXT_SCHEMA, TEXT_MINUTE_INDEX],
    flush: textFlush,
  },
  textOneIndex: {
    schema: [TEXT_SCHEMA],
    flush: textFlush,
  },
  product: {
    schema: PRODUCT_SCHEMA,
    flush: productFlush,
  },
  intTwoIndexes: {
    schema: [INT_SCHEMA, INT_MINUTE_INDEX],
    flush: async (client, groups) => {
      await client.query(INT_UPSERT_GROUPED, intParams(toIntRows(groups)));
      return 0;
    },
  },
  intOneIndex: {
    schema: [INT_SCHEMA],
    flush: async (client, groups) => {
      await client.query(INT_UPSERT_GROUPED, intParams(toIntRows(groups)));
      return 0;
    },
  },
  intPartitioned: {
    schema: [...INT_PARTITIONED, ...partitionsFor(START_MINUTE, 6)],
    flush: async (client, groups) => {
      await client.query(INT_UPSERT_GROUPED, intParams(toIntRows(groups)));
      return 0;
    },
  },
  intPartitionedMerged: {
    schema: [...INT_PARTITIONED, ...partitionsFor(START_MINUTE, 6)],
    flush: async (client, groups) => {
      await client.query(INT_UPSERT_MERGED, intParams(mergeSorted(toIntRows(groups))));
      return 0;
    },
  },
  intOneIndexMerged: {
    schema: [INT_SCHEMA],
    flush: async (client, groups) => {
      await client.query(INT_UPSERT_MERGED, intParams(mergeSorted(toIntRows(groups))));
      return 0;
    },
  },
  intTwoIndexesMerged: {
    schema: [INT_SCHEMA, INT_MINUTE_INDEX],
    flush: async (client, groups) => {
      await client.query(INT_UPSERT_MERGED, intParams(mergeSorted(toIntRows(groups))));
      return 0;
    },
  },
  intMinuteFirstMerged: {
    schema: [
      `CREATE TABLE minute_cube (${INT_COLUMNS}, PRIMARY KEY (minute, action, origin, brand, category)) WITH (fillfactor = 90)`,
    ],
    flush: async (client, groups) => {
      await client.query(
        INT_UPSERT_MERGED.replace(`ON CONFLICT (${INT_KEY})`, 'ON CONFLICT (minute, action, origin, brand, category)'),
        intParams(mergeSorted(toIntRows(groups), true)),
      );
      return 0;
    },
  },
  intMergeStatement: {
    schema: [INT_SCHEMA],
    flush: async (client, groups) => {
      await client.query('SELECT pg_advisory_xact_lock(42)');
      await client.query(
        `MERGE INTO minute_cube AS c
         USING unnest($1::int[], $2::smallint[], $3::int[], $4::int[], $5::int[], $6::bigint[], $7::bigint[])
           AS d(minute, action, origin, brand, category, count, sum_price)
         ON c.action = d.action AND c.origin = d.origin AND c.brand = d.brand AND c.category = d.category AND c.minute = d.minute
         WHEN MATCHED THEN UPDATE SET count = c.count + d.count, sum_price = c.sum_price + d.sum_price
         WHEN NOT MATCHED THEN INSERT (minute, action, origin, brand, category, count, sum_price)
           VALUES (d.minute, d.action, d.origin, d.brand, d.category, d.count, d.sum_price)`,
        intParams(mergeSorted(toIntRows(groups))),
      );
      return 0;
    },
  },
  blocks: {
    schema: BLOCK_SCHEMA,
    flush: blocksFlush,
  },
  intOneIndexCopy: {
    schema: [INT_SCHEMA],
    flush: async (client, groups) => {
      const rows = mergeSorted(toIntRows(groups));
      await client.query(
        `CREATE TEMP TABLE IF NOT EXISTS cube_stage (minute int, action smallint, origin int, brand int, category int,
           count bigint, sum_price bigint) ON COMMIT DELETE ROWS`,
      );
      await copyIn(client, 'COPY cube_stage FROM STDIN', copyText(rows));
      await client.query(
        `INSERT INTO minute_cube AS c (minute, action, origin, brand, category, count, sum_price)
         SELECT * FROM cube_stage
         ON CONFLICT (${INT_KEY}) DO UPDATE SET count = c.count + excluded.count, sum_price = c.sum_price + excluded.sum_price`,
      );
      return 0;
    },
  },
};

async function main(): Promise<void> {
  const totalTags = Number(option('tags', '500000'));
  const tagsPerFlush = Number(option('tags-per-flush', '50000'));
  const partitions = 4;
  const chosen = option('variants', Object.keys(variants).join(',')).split(',');
  const syncOff = option('sync-off', 'false') === 'true';
  const server = await PostgresServer.start({ dataDir: `/tmp/cube-variants-${process.pid}` });
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  const results: unknown[] = [];
  try {
    for (const name of chosen) {
      const variant = variants[name];
      if (!variant) throw new Error(`unknown variant ${name}`);
      const db = `v_${name.toLowerCase()}`;
      await admin.query(`DROP DATABASE IF EXISTS ${db}`);
      await admin.query(`CREATE DATABASE ${db}`);
      const client = new Client({ connectionString: server.url.replace(/\/postgres$/, `/${db}`) });
      await client.connect();
      for (const sql of variant.schema) await client.query(sql);
      await admin.query('CHECKPOINT');
      const generator = new TagGenerator(DEFAULT_WORKLOAD);
      let done = 0;
      let nodeCpu = 0;
      let wallMs = 0;
      const pg0 = postgresCpuSeconds(server.dataDir);
      while (done < totalTags) {
        const n = Math.min(tagsPerFlush, totalTags - done);
        const groups = accumulate(generator, n, partitions);
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await client.query('BEGIN');
        if (syncOff) await client.query('SET LOCAL synchronous_commit = off');
        await client.query("SET LOCAL work_mem = '128MB'");
        await variant.flush(client, groups);
        await client.query('COMMIT');
        const c = process.cpuUsage(c0);
        nodeCpu += (c.user + c.system) / 1e6;
        wallMs += performance.now() - t0;
        done += n;
      }
      await admin.query('CHECKPOINT');
      const pgCpu = postgresCpuSeconds(server.dataDir) - pg0;
      const [{ rows, mb }] = (
        await client.query<{ rows: string; mb: string }>(
          "SELECT count(*) AS rows, pg_total_relation_size('minute_cube') / 1000000 AS mb FROM minute_cube",
        )
      ).rows;
      const sizes = await client.query<{ relname: string; mb: string }>(
        `SELECT c.relname, pg_relation_size(c.oid) / 1000000 AS mb FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
         ORDER BY pg_relation_size(c.oid) DESC LIMIT 4`,
      );
      await client.end();
      const result = {
        variant: name,
        tags: done,
        cubeRows: Number(rows),
        cubeMB: Number(mb),
        largest: sizes.rows.map((r) => `${r.relname} ${r.mb} MB`),
        postgresCpuS: +pgCpu.toFixed(2),
        nodeCpuS: +nodeCpu.toFixed(2),
        wallS: +(wallMs / 1000).toFixed(1),
        postgresUsPerTag: +((pgCpu / done) * 1e6).toFixed(2),
        nodeUsPerTag: +((nodeCpu / done) * 1e6).toFixed(2),
        loadAverage: loadavg().map((x) => +x.toFixed(1)),
      };
      console.log(JSON.stringify(result));
      results.push(result);
      await admin.query(`DROP DATABASE ${db}`);
    }
  } finally {
    await admin.end();
    await server.stop();
  }
  console.log(JSON.stringify({ nproc: cpus().length, syncOff, totalTags, tagsPerFlush }));
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
