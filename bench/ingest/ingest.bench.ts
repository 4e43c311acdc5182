/**
 * Issue 4's ingest target, measured end to end on this machine: gateway, pipeline, a Kafka broker and
 * PostgreSQL (all started here, fresh) and the loadgen, all on the same cores. Sustained POST /user_tags
 * at `--rate` for `--seconds`, with one profile read per 10 tags (500 reads/s at 5,000 tags/s) and one
 * aggregates query per 1,000 tags, every answer checked by the loadgen's reference model. Queries carry
 * no debug body and DEBUG_COMPARE is off, as in production.
 *
 *   npx tsx bench/ingest/ingest.bench.ts [--rate 5000] [--seconds 60] [--warmup 10] [--concurrency 256] [--quick]
 *       [--profile-every 10]
 *       [--gateway-env KEY=VALUE ...] [--pipeline-env KEY=VALUE ...] [--statements]
 *
 * Target: >= 5,000 req/s with p99 <= 50 ms and zero errors; profile reads p99 <= 10 ms during it.
 * Prints the loadgen's summary, CPU seconds per process, and a last line `RESULT {json}` for
 * bench/run-all.ts. Reports (JSON, Markdown, HTML) go to .cache/bench/ingest/<time>/.
 * `--statements`: PostgreSQL's time by statement and its WAL over the measured run (pg_stat_statements).
 * Bounded: a hard deadline of start-up + warm-up + run + 3 minutes stops everything.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, Loadgen, LoadgenReport, defaultStream } from '../loadgen/loadgen';
import { writeReports } from '../loadgen/main';
import { markdownReport, progressLine } from '../loadgen/report';
import { LocalSystem, envOf } from '../loadgen/system/local-system';
import { cpuByRole, cpuDelta } from '../loadgen/system/process-cpu';
import { parseRouteBuckets, serverLatencyLines, subtractBuckets } from '../loadgen/system/server-latency';
import { resetStatementStats, STATEMENT_STATS_SETTINGS, statementStatsLines } from '../persistence/pg-statements';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    concurrency: { type: 'string', default: '256' },
    // One profile query per N tags (0: none), to tell the cost of reads from that of ingest.
    'profile-every': { type: 'string' },
    quick: { type: 'boolean', default: false },
    // KEY=VALUE settings of the gateway's or the pipeline's environment, for experiments (repeatable).
    'gateway-env': { type: 'string', multiple: true },
    'pipeline-env': { type: 'string', multiple: true },
    statements: { type: 'boolean', default: false },
  },
});
const quick = args.quick ?? false;
const rate = Number(args.rate ?? (quick ? 1_000 : 5_000));
const seconds = Number(args.seconds ?? (quick ? 10 : 60));
const warmup = Number(args.warmup ?? (quick ? 3 : 10));
const concurrency = Number(args.concurrency);
const profileEvery = Number(args['profile-every'] ?? DEFAULT_OPTIONS.profileEvery);
for (const [k, v] of Object.entries({ rate, seconds, warmup, concurrency, profileEvery })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${k} must be a non-negative number`);
}

const TARGET = { rate: 5_000, tagP99Ms: 50, profileP99Ms: 10 };
const fmt = (n: number, digits = 1): string => (Number.isFinite(n) ? n.toFixed(digits) : '–');

async function main(): Promise<number> {
  const deadlineMs = (90 + warmup + seconds + 180) * 1_000;
  // However it ends, nothing outlives the deadline: exit runs the hooks that kill the children.
  setTimeout(() => {
    console.error(`ingest bench: hard deadline of ${deadlineMs / 1000} s reached, stopping`);
    process.exit(3);
  }, deadlineMs).unref();

  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const outDir = resolve(__dirname, '..', '..', '.cache', 'bench', 'ingest', stamp);
  console.log(
    `ingest bench: ${rate} tags/s for ${seconds} s after ${warmup} s of warm-up; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const t0 = Date.now();
  const system = await LocalSystem.start({
    debugCompare: false,
    logDir: join(outDir, 'logs'),
    gatewayEnv: envOf(args['gateway-env']),
    pipelineEnv: envOf(args['pipeline-env']),
    ...(args.statements ? { postgresSettings: STATEMENT_STATS_SETTINGS } : {}),
  });
  console.log(`system up in ${((Date.now() - t0) / 1000).toFixed(1)} s (gateway ${system.gateway.url})`);
  try {
    const base = {
      ...DEFAULT_OPTIONS,
      url: system.gateway.url,
      concurrency,
      profileEvery,
      debugBodies: false,
      onProgress: (p: Parameters<typeof progressLine>[0]) => {
        if (Math.round(p.elapsedS) % 5 === 0) console.log(progressLine(p));
      },
    };
    if (warmup > 0) {
      // JIT, connection pools and Kafka metadata warm up on another stream: other cookies (seed) and an
      // earlier event time, so the measured run's checks cannot see it.
      const w = await new Loadgen({
        ...base,
        rate: Math.max(100, rate / 2),
        durationS: warmup,
        finalQueries: 0,
        stream: { ...defaultStream(1_000_001), startMs: Date.UTC(2022, 1, 27) },
        onProgress: undefined,
      }).run();
      console.log(
        `warm-up: ${w.tags.accepted}/${w.tags.sent} tags accepted, tag p99 ${fmt(w.latency.user_tags.p99)} ms`,
      );
    }
    const roles = { gateway: system.gateway.pid, pipeline: system.pipeline.pid };
    const gatewayMetrics = async () => parseRouteBuckets(await (await fetch(`${system.gateway.url}/metrics`)).text());
    const latencyBefore = await gatewayMetrics();
    if (args.statements) await resetStatementStats(system.databaseUrl);
    const cpuBefore = cpuByRole(roles);
    const wallBefore = Date.now();
    const report = await new Loadgen({
      ...base,
      rate,
      durationS: seconds,
      finalQueries: 20,
      stream: defaultStream(7),
    }).run();
    const cpu = cpuDelta(cpuBefore, cpuByRole(roles));
    const wallS = (Date.now() - wallBefore) / 1_000;
    // The gateway's own histogram over the run: what of the latency above is spent in the server.
    const serverLatency = serverLatencyLines(subtractBuckets(await gatewayMetrics(), latencyBefore));
    const paths = writeReports(outDir, report);
    console.log(markdownReport(report));
    console.log(
      `CPU seconds over ${fmt(wallS)} s of wall time (2 cores = ${fmt(2 * wallS)} s available): ` +
        Object.entries(cpu)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(', '),
    );
    console.log(
      `CPU µs per accepted tag: ` +
        Object.entries(cpu)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${fmt((v * 1e6) / Math.max(1, report.tags.accepted), 0)}`)
          .join(', ') +
        `; system (all but loadgen) ${fmt(
          (Object.entries(cpu).reduce((n, [k, v]) => n + (k === 'loadgen' ? 0 : v), 0) * 1e6) /
            Math.max(1, report.tags.accepted),
          0,
        )}`,
    );
    for (const line of serverLatency) console.log(`gateway ${line}`);
    if (args.statements) for (const line of await statementStatsLines(system.databaseUrl)) console.log(line);
    console.log(`reports: ${paths.md}, ${paths.html}; app logs: ${system.logDir}`);
    const result = summarize(report, cpu, wallS);
    console.log(`RESULT ${JSON.stringify(result)}`);
    return report.passed ? 0 : 1;
  } finally {
    await system.stop();
  }
}

function summarize(r: LoadgenReport, cpu: Record<string, number>, wallS: number): Record<string, unknown> {
  const tag = r.latency.user_tags;
  const profile = r.latency.user_profiles;
  const profileRate = r.queries.user_profiles.sent / Math.max(1, r.sendSeconds);
  const errors = r.tags.sent - r.tags.accepted + r.queries.user_profiles.errors + r.queries.aggregates.errors;
  return {
    bench: 'ingest',
    targetRate: r.targetRate,
    achievedRate: Math.round(r.achievedRate),
    acceptedRate: Math.round(r.acceptedRate),
    tagP50Ms: tag.p50,
    tagP99Ms: tag.p99,
    tagMaxMs: tag.max,
    profileReadsPerS: Math.round(profileRate),
    profileP50Ms: profile.p50,
    profileP99Ms: profile.p99,
    aggregatesP99Ms: r.latency.aggregates.p99,
    errors,
    wrongAnswers: r.queries.user_profiles.wrong + r.queries.aggregates.wrong,
    correctAnswers: r.queries.user_profiles.correct + r.queries.aggregates.correct,
    cpuSeconds: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(v * 10) / 10])),
    wallSeconds: Math.round(wallS),
    meetsTarget:
      r.acceptedRate >= TARGET.rate * 0.99 &&
      tag.p99 <= TARGET.tagP99Ms &&
      errors === 0 &&
      profile.p99 <= TARGET.profileP99Ms,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGb: Math.round(totalmem() / 2 ** 30) },
  };
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
