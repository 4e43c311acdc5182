/**
 * Issue 5's catch-up target: a backlog of `--tags` user tags (1,000,000) in a fresh topic, then the
 * pipeline started on it; how fast each consumer group works it off into PostgreSQL.
 *
 *   npx tsx bench/pipeline/catch-up.bench.ts [--tags 1000000] [--partitions 4] [--durable true] [--max-seconds 600] [--quick] [--statements]
 *       [--pg-setting name=value ...]
 *
 * 1. Starts a Kafka broker and a PostgreSQL server (durable: fsync on, as production; `--durable false`
 *    for a throwaway one), produces the loadgen's seeded stream (seed 7, 1 ms apart) with the
 *    kafka-avro publisher (Avro, acks=all), and reads the topic's end offsets.
 * 2. Spawns the pipeline (apps/pipeline, TRANSPORT=kafka) and polls, every 250 ms, the aggregates
 *    group's offsets stored in PostgreSQL (consumer_offset, written with the cube in one transaction)
 *    and the same offsets recorded in Kafka after each flush (profiles are written before a batch is
 *    counted, so they are at least that far), until both reach the end offsets.
 * 3. Reports tags/s per group from the pipeline's readiness to the group's completion (and the rate
 *    between 10 % and 90 %, which leaves start-up and the tail out), checks that the cube's grand
 *    total counts every tag, and prints a last line `RESULT {json}` for bench/run-all.ts.
 * `--pg-setting` (repeatable) starts PostgreSQL with that setting, for experiments.
 * `--statements` loads pg_stat_statements and prints the pipeline's statements by PostgreSQL time.
 * Bounded by `--max-seconds` of catch-up and a hard deadline for the whole run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { UserTag } from '@lib/domain';
import {
  defaultSchemaCatalog,
  ensureTopics,
  KafkaMessagePublisher,
  KafkaOptionsFactory,
  MessagingConfig,
  SingleObjectSerde,
  userTagsTopic,
} from '@lib/kafka-avro';
import { Client } from 'pg';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { AppProcess } from '../loadgen/system/app-process';
import { envOf } from '../loadgen/system/local-system';
import { resetStatementStats, STATEMENT_STATS_SETTINGS, statementStatsLines } from '../persistence/pg-statements';
import { cpuByRole, cpuDelta } from '../loadgen/system/process-cpu';
import { DEFAULT_STREAM, TagStream } from '../loadgen/tag-stream';

const { values: args } = parseArgs({
  options: {
    tags: { type: 'string' },
    partitions: { type: 'string', default: '4' },
    durable: { type: 'string', default: 'true' },
    'max-seconds': { type: 'string', default: '600' },
    quick: { type: 'boolean', default: false },
    statements: { type: 'boolean', default: false },
    'pg-setting': { type: 'string', multiple: true },
  },
});
const total = Number(args.tags ?? (args.quick ? 100_000 : 1_000_000));
const partitions = Number(args.partitions);
const durable = args.durable !== 'false';
const maxSeconds = Number(args['max-seconds']);
const TARGET_TAGS_PER_S = 50_000;
const PUBLISH_CALL = 1_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

interface Progress {
  at: number;
  done: number;
}

/** Time and rate of a group from its progress samples. */
function rates(samples: Progress[], readyAt: number, spawnedAt: number) {
  const doneAt = samples.find((s) => s.done >= total)?.at;
  const at = (fraction: number): number | undefined => samples.find((s) => s.done >= fraction * total)?.at;
  const t10 = at(0.1);
  const t90 = at(0.9);
  return {
    finished: doneAt !== undefined,
    done: samples.length > 0 ? (samples[samples.length - 1] as Progress).done : 0,
    secondsFromSpawn: doneAt === undefined ? null : (doneAt - spawnedAt) / 1_000,
    secondsFromReady: doneAt === undefined ? null : (doneAt - readyAt) / 1_000,
    tagsPerSFromReady: doneAt === undefined ? null : Math.round(total / ((doneAt - readyAt) / 1_000)),
    tagsPerS10to90:
      t10 !== undefined && t90 !== undefined && t90 > t10 ? Math.round((0.8 * total) / ((t90 - t10) / 1_000)) : null,
  };
}

async function main(): Promise<number> {
  const hardLimitS = maxSeconds + 600;
  setTimeout(() => {
    console.error(`catch-up bench: hard deadline of ${hardLimitS} s reached, stopping`);
    process.exit(3);
  }, hardLimitS * 1_000).unref();

  const runId = `${Date.now().toString(36)}`;
  const logDir = resolve(__dirname, '..', '..', '.cache', 'bench', 'catch-up', runId);
  mkdirSync(logDir, { recursive: true });
  console.log(
    `catch-up bench: ${int(total)} tags, ${partitions} partitions, PostgreSQL ${durable ? 'durable (fsync on)' : 'throwaway (fsync off)'}; ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  const pgDir = durable ? mkdtempSync(join(tmpdir(), 'catch-up-pg-')) : undefined;
  const [kafka, postgres] = await Promise.all([
    KafkaServer.start({ heapMb: 512, logFile: join(logDir, 'kafka.log') }),
    PostgresServer.start({
      ...(pgDir ? { dataDir: pgDir } : {}),
      logFile: join(logDir, 'postgres.log'),
      settings: { ...envOf(args['pg-setting']), ...(args.statements ? STATEMENT_STATS_SETTINGS : {}) },
    }),
  ]);
  let pipeline: AppProcess | undefined;
  const config: MessagingConfig = {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_CLIENT_ID: 'catch-up-bench',
    KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
    KAFKA_REQUEST_TIMEOUT_MS: 30_000,
    KAFKA_SESSION_TIMEOUT_MS: 10_000,
    KAFKA_TOPIC_PARTITIONS: partitions,
    KAFKA_REPLICATION_FACTOR: 1,
    SCHEMA_REGISTRY_URL: undefined,
    TOPIC_USER_TAGS: `user-tags-${runId}`,
    TOPIC_DERIBIT_TRADES: 'deribit-trades',
    TOPIC_TRADE_STATS: 'deribit-trade-stats',
    OTEL_EXPORTER_ENABLED: false,
    KAFKA_LINGER_MS: 5,
    KAFKA_BATCH_MAX_MESSAGES: 10_000,
    KAFKA_PRODUCE_TIMEOUT_MS: 30_000,
  };
  const options = new KafkaOptionsFactory(config, 'catch-up-bench');
  const admin = options.kafka('admin').admin();
  const pg = new Client({ connectionString: postgres.url });
  try {
    const topic = userTagsTopic(config.TOPIC_USER_TAGS);
    await ensureTopics(options.kafka('topics'), [topic.name], { partitions, replicationFactor: 1 });

    // 1. The backlog.
    const publisher = KafkaMessagePublisher.fromOptions(options, new SingleObjectSerde(defaultSchemaCatalog()));
    await publisher.connect();
    const stream = new TagStream({ ...DEFAULT_STREAM, seed: 7 });
    const t0 = Date.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const n = Math.min(PUBLISH_CALL, total - next);
        next += n;
        // The loadgen's tags are the contract's JSON, which is what the gateway publishes.
        const values = Array.from({ length: n }, () => stream.next().body as UserTag);
        await publisher.publish(topic, values, { timeoutMs: 60_000 });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const produceS = (Date.now() - t0) / 1_000;
    await publisher.close();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic.name);
    const endTotal = ends.reduce((s, p) => s + Number(p.high), 0);
    if (endTotal !== total) throw new Error(`the topic holds ${endTotal} messages, expected ${total}`);
    console.log(
      `1. produced ${int(total)} tags in ${produceS.toFixed(1)} s = ${int(total / produceS)} tags/s (acks=all)`,
    );

    // 2. The pipeline on it.
    // One consumer group writes both stores: profiles first, then the cube with the offsets.
    const groups = { aggregates: `aggregates-${runId}` };
    await pg.connect();
    const roles = (): Record<string, number | undefined> => ({ pipeline: pipeline?.pid });
    if (args.statements) await resetStatementStats(postgres.url);
    const cpuBefore = cpuByRole(roles(), 'bench');
    const spawnedAt = Date.now();
    pipeline = await AppProcess.start(
      'pipeline',
      {
        TRANSPORT: 'kafka',
        KAFKA_BROKERS: kafka.brokers.join(','),
        DATABASE_URL: postgres.url,
        TOPIC_USER_TAGS: topic.name,
        KAFKA_TOPIC_PARTITIONS: String(partitions),
        AGGREGATES_GROUP_ID: groups.aggregates,
        LOG_LEVEL: 'warn',
      },
      logDir,
    );
    await pipeline.ready();
    const readyAt = Date.now();
    console.log(`2. pipeline ready ${((readyAt - spawnedAt) / 1000).toFixed(1)} s after spawn; catching up...`);
    const samples: Record<'profiles' | 'aggregates', Progress[]> = { profiles: [], aggregates: [] };
    const deadline = readyAt + maxSeconds * 1_000;
    let lastPrint = 0;
    for (;;) {
      const at = Date.now();
      const stored = await pg
        .query<{ n: string | null }>(
          'SELECT sum(next_offset) AS n FROM consumer_offset WHERE group_id = $1 AND topic = $2',
          [groups.aggregates, topic.name],
        )
        .then((r) => Number(r.rows[0]?.n ?? 0))
        .catch(() => 0); // the table appears with the migrations
      // Profiles are appended before a batch is counted, so what the flush recorded in Kafka (after
      // storing it in PostgreSQL) is in the profiles too: a lower bound of the profiles' progress.
      const committed = (await admin.fetchOffsets({ groupId: groups.aggregates, topics: [topic.name] }))
        .flatMap((t) => t.partitions)
        .reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
      samples.aggregates.push({ at, done: stored });
      samples.profiles.push({ at, done: committed });
      if (at - lastPrint > 5_000) {
        console.log(
          `   ${((at - readyAt) / 1000).toFixed(0)} s: aggregates ${int(stored)}, profiles ${int(committed)}`,
        );
        lastPrint = at;
      }
      if ((stored >= total && committed >= total) || at > deadline || !pipeline.running) break;
      await sleep(250);
    }
    const cpu = cpuDelta(cpuBefore, cpuByRole(roles(), 'bench'));
    // How the work was cut: store writes and the rows they carried.
    const work = pipeline.running
      ? {
          flushes: await pipeline.metric('pipeline_aggregate_flush_tags_count'),
          cubeRows: await pipeline.metric('pipeline_aggregate_rows_upserted_total'),
          profileWrites: await pipeline.metric('pipeline_profile_batch_size_count'),
        }
      : undefined;
    const result = {
      bench: 'catch-up',
      tags: total,
      partitions,
      durable,
      produceTagsPerS: Math.round(total / produceS),
      aggregates: rates(samples.aggregates, readyAt, spawnedAt),
      profiles: rates(samples.profiles, readyAt, spawnedAt),
      cubeTotal: 0,
      cpuSeconds: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      meetsTarget: false,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memGb: Math.round(totalmem() / 2 ** 30) },
    };
    // Sanity: the cube's grand total (no dimension fixed) counts every tag exactly once.
    result.cubeTotal = await pg
      .query<{ n: string | null }>('SELECT sum(count) AS n FROM minute_cube WHERE dims = 0')
      .then((r) => Number(r.rows[0]?.n ?? 0))
      .catch(() => -1);
    result.meetsTarget =
      (result.aggregates.tagsPerSFromReady ?? 0) >= TARGET_TAGS_PER_S &&
      (result.profiles.tagsPerSFromReady ?? 0) >= TARGET_TAGS_PER_S &&
      result.cubeTotal === total;
    for (const g of ['aggregates', 'profiles'] as const) {
      const r = result[g];
      console.log(
        `3. ${g}: ${r.finished ? `caught up ${int(total)} tags in ${r.secondsFromReady?.toFixed(1)} s from ready (${r.secondsFromSpawn?.toFixed(1)} s from spawn) = ${int(r.tagsPerSFromReady ?? 0)} tags/s; 10-90 %: ${int(r.tagsPerS10to90 ?? 0)} tags/s` : `NOT caught up: ${int(r.done)} of ${int(total)} after ${maxSeconds} s`}`,
      );
    }
    console.log(
      `   cube grand total ${int(result.cubeTotal)} (expected ${int(total)}); CPU seconds: ${Object.entries(
        result.cpuSeconds,
      )
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
    if (work !== undefined) {
      console.log(
        `   ${int(work.flushes)} cube flushes (${int(total / Math.max(1, work.flushes))} tags each), ${(work.cubeRows / total).toFixed(2)} cube rows upserted a tag, ${int(work.profileWrites)} profile appends (${int(total / Math.max(1, work.profileWrites))} tags each)`,
      );
    }
    if (args.statements) for (const line of await statementStatsLines(postgres.url)) console.log(`   ${line}`);
    if (!pipeline.running) console.log(`pipeline exited:\n${pipeline.log()}`);
    console.log(`RESULT ${JSON.stringify(result)}`);
    return result.aggregates.finished && result.profiles.finished && result.cubeTotal === total ? 0 : 1;
  } finally {
    await pipeline?.stop();
    await pg.end().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await Promise.all([kafka.stop(), postgres.stop()]);
    if (pgDir !== undefined) rmSync(pgDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
