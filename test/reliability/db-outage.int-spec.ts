/**
 * Reliability suite, database outage: PostgreSQL is stopped for 10 s (fast shutdown) while tags stream
 * through the gateway, then started again on the same port and data dir. Kafka stays up, so every tag is
 * acknowledged (204). The pipeline retries without committing: its /health/ready goes down during the
 * outage and comes back after it, the process stays alive, and once it has caught up the cube counts
 * exactly the tags sent (per action, and per minute bucket of the unfiltered cube) and every cookie's
 * profile holds exactly its tags. Profile and aggregate queries to the gateway during the outage answer
 * 503 (not 500, not a hang), and 200 again after it.
 *
 * The PostgreSQL server is the suite's own (scripts/servers/postgres-server.ts), never the shared test
 * server, which other test files use in parallel; Kafka is the shared broker (a topic of its own).
 *
 * CI: `npx jest test/reliability/db-outage.int-spec.ts --selectProjects integration` (200 tags/s, 8 s
 * before the outage, 10 s of outage, 10 s after the pipeline is ready again). Larger: RELIABILITY_FULL=1
 * (500 tags/s, 20 s before, 30 s after); sizes by RELIABILITY_DB_OUTAGE_RATE, _BEFORE_SECONDS, _SECONDS,
 * _AFTER_SECONDS.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Kafka, logLevel } from 'kafkajs';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { sleep } from '../../scripts/servers/process-utils';
import { testKafkaBrokers } from '../support/test-env';
import { Figures } from './support/figures';
import { PacedTags, TagShape } from './support/paced-tags';
import { FULL, size } from './support/sizes';
import { Poll, poller, queryStatus, readiness, statusCount, storeQueryPaths } from './support/polls';
import { addStoreFigures, checkStores } from './support/store-check';
import { checkTopic, NO_PROBLEMS } from './support/topic-check';
import { UserTagsStack } from './support/user-tags-stack';

const RATE = size('DB_OUTAGE_RATE', 200, 500);
const BEFORE_S = size('DB_OUTAGE_BEFORE_SECONDS', 8, 20);
const OUTAGE_S = size('DB_OUTAGE_SECONDS', 10, 10);
const AFTER_S = size('DB_OUTAGE_AFTER_SECONDS', 10, 30);
/** A query answer later than this is a hang (the pool's connect timeout is 5 s). */
const QUERY_TIMEOUT_MS = 15_000;
/** What a 503 during the outage may take. */
const QUERY_BOUND_MS = 6_000;
const CONVERGE_MS = 120_000;
/** Fewer than 200 tags per cookie and action, so profiles keep them all. */
const SHAPE: TagShape = { prefix: 'dbo', cookies: 400, stepMs: 50 };

jest.setTimeout((BEFORE_S + OUTAGE_S + AFTER_S) * 1000 + CONVERGE_MS + 240_000);

/** Sum of the topic's end offsets, and of what `group` has committed in Kafka. */
async function kafkaOffsets(admin: Admin, group: string, topic: string): Promise<{ end: number; committed: number }> {
  const [ends, [committed]] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
  ]);
  return {
    end: ends.reduce((n, p) => n + Number(p.high), 0),
    committed: (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0),
  };
}

const post = (url: string) => queryStatus(url, QUERY_TIMEOUT_MS);
const ready = (url: string) => readiness(url, QUERY_TIMEOUT_MS);

describe('database outage: PostgreSQL stopped for 10 s during ingest', () => {
  const figures = new Figures(
    'db-outage',
    `${FULL ? 'RELIABILITY_FULL=1 ' : ''}npx jest test/reliability/db-outage.int-spec.ts --selectProjects integration: ` +
      `${RATE} tags/s, ${BEFORE_S} s before the outage, PostgreSQL down ${OUTAGE_S} s (fast shutdown, then started ` +
      `again on its port and data dir), ${AFTER_S} s after the pipeline was ready again; ${SHAPE.cookies} cookies, 4 partitions`,
  );
  let dir: string;
  let pg: PostgresServer | undefined;
  let stack: UserTagsStack;
  let passed = false;
  const admin = new Kafka({
    clientId: 'db-outage-offsets',
    brokers: testKafkaBrokers(),
    logLevel: logLevel.NOTHING,
  }).admin();

  beforeAll(async () => {
    await admin.connect();
    // The server runs as the `postgres` user when we are root: it must be able to enter the directory.
    dir = mkdtempSync(join(tmpdir(), 'db-outage-'));
    chmodSync(dir, 0o755);
    pg = await PostgresServer.start({ dataDir: join(dir, 'data'), logFile: join(dir, 'postgres-0.log') });
    stack = await UserTagsStack.start({
      label: 'db-outage',
      brokers: testKafkaBrokers().join(','),
      databaseUrl: pg.url,
      env: { LOG_LEVEL: 'warn' },
    });
  });

  afterAll(async () => {
    figures.report(passed ? 'passed' : 'failed');
    await stack?.stop();
    await admin.disconnect();
    await pg?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('retries without committing while PostgreSQL is down; readiness follows; nothing lost or counted twice', async () => {
    const server = pg as PostgresServer;
    const { port, url: dbUrl } = server;
    const client = new PacedTags({ url: stack.gateway.url, rate: RATE, shape: SHAPE, timeoutMs: QUERY_TIMEOUT_MS });
    const pipelineReady = poller(100, () => ready(stack.pipeline.url));
    const gatewayReady = poller(100, () => ready(stack.gateway.url));
    const paths = storeQueryPaths(SHAPE);
    const profiles = poller(200, () => post(`${stack.gateway.url}${paths.profile}`));
    const aggregates = poller(200, () => post(`${stack.gateway.url}${paths.aggregates}`));
    const t0 = Date.now();
    client.start();

    await sleep(BEFORE_S * 1000);
    const stopAt = Date.now();
    pg = undefined;
    await server.stop();
    const exitedAt = Date.now();
    // Whatever the pipeline's group consumed before the stop is written (profiles first, then the
    // cube's flush) and recorded in Kafka within a second; from then on, with the database down, those
    // offsets must not move while the topic grows.
    await sleep(1_000);
    const heldFrom = await kafkaOffsets(admin, stack.groups.aggregates, stack.topic);
    await sleep(Math.max(0, stopAt + OUTAGE_S * 1000 - Date.now()));
    const heldTo = await kafkaOffsets(admin, stack.groups.aggregates, stack.topic);
    const startAt = Date.now();
    pg = await PostgresServer.start({ dataDir: join(dir, 'data'), port, logFile: join(dir, 'postgres-1.log') });
    const readyAt = Date.now();

    // The pipeline ready again: its first 200 after the restart.
    const deadline = Date.now() + 90_000;
    const backAfter = (polls: Poll[]) => polls.find((p) => p.at >= readyAt && p.status === 200);
    while (backAfter(pipelineReady.polls) === undefined && Date.now() < deadline) await sleep(100);
    const pipelineBackAt = backAfter(pipelineReady.polls)?.at ?? Number.NaN;
    await sleep(AFTER_S * 1000);
    const outcomes = await client.stop();
    const sendEnd = Date.now();
    const [pReady, gReady, pQueries, aQueries] = await Promise.all([
      pipelineReady.stop(),
      gatewayReady.stop(),
      profiles.stop(),
      aggregates.stop(),
    ]);

    const { at: convergedAt } = await stack.converged(CONVERGE_MS);
    const alive = stack.pipeline.running;
    const [flushFailures, batchFailures] = await Promise.all([
      stack.pipeline.metric('pipeline_aggregate_flush_failures_total'),
      stack.pipeline.metric('kafka_consumer_batch_failures_total'),
    ]);

    // What the stores must hold: every tag of the topic, once. That is every acknowledged tag, and maybe
    // a few answered 503 by a slow shared broker (not acknowledged within KAFKA_PRODUCE_TIMEOUT_MS, yet
    // written by the producer's retry: the gateway's documented trade-off), never one twice.
    const topicCheck = await checkTopic(stack.topic, outcomes, SHAPE);
    const { ok, notOk, inTopic } = topicCheck;
    const stores = await checkStores(dbUrl, inTopic);

    // Readiness and queries, by when they were asked.
    const downAfterStop = pReady.find((p) => p.at >= stopAt && p.status !== 200);
    const pipelineDownPolls = pReady.filter((p) => p.at >= stopAt && p.at < pipelineBackAt && p.status !== 200);
    const gatewayDown = gReady.find((p) => p.at >= stopAt && p.status !== 200);
    const gatewayBack = gReady.find((p) => p.at >= readyAt && p.status === 200);
    const outage = (p: Poll) => p.at >= exitedAt && p.at < startAt;
    const queries = [...pQueries, ...aQueries];
    const duringQ = queries.filter(outage);
    const afterQ = queries.filter((p) => p.at >= readyAt + 2_000);
    const badQ = queries.filter((p) => p.status !== 200 && p.status !== 503);
    const slowQ = duringQ.filter((p) => p.ms > QUERY_BOUND_MS);
    const s = (ms: number) => (ms / 1000).toFixed(1);
    figures.add('tags sent', outcomes.length);
    figures.add('answered 204', ok.length);
    figures.add(
      'other answers (only 503 KAFKA_UNAVAILABLE allowed: the shared broker slow), sent s from the stop',
      notOk.length === 0
        ? 0
        : `${notOk.length}, ${s(notOk[0].sentAt - stopAt)} to ${s(notOk[notOk.length - 1].sentAt - stopAt)}`,
    );
    figures.add(
      'tags in the topic / of them answered 503 / twice',
      `${topicCheck.messages} / ${topicCheck.notOkWritten} / ${topicCheck.problems.duplicated.length}`,
    );
    figures.add('PostgreSQL stop (SIGINT → exited), s', s(exitedAt - stopAt));
    figures.add('PostgreSQL down (stop → start), s', s(startAt - stopAt));
    figures.add('PostgreSQL restart (start → SELECT 1), s', s(readyAt - startAt));
    figures.add('pipeline readiness down, s after the stop', downAfterStop ? s(downAfterStop.at - stopAt) : 'never');
    figures.add('pipeline readiness back (200), s after PostgreSQL was up', s(pipelineBackAt - readyAt));
    figures.add('pipeline readiness polls non-200 / all', `${pipelineDownPolls.length} / ${pReady.length}`);
    figures.add('pipeline checks down', [...new Set(pipelineDownPolls.map((p) => p.what))].join('; ') || '-');
    figures.add(
      'gateway readiness down / back, s after stop / after PostgreSQL up',
      `${gatewayDown ? s(gatewayDown.at - stopAt) : 'never'} / ${gatewayBack ? s(gatewayBack.at - readyAt) : 'never'}`,
    );
    figures.add('pipeline process alive, restarts', `${alive ? 'yes' : 'NO'}, ${stack.restarts}`);
    figures.add(
      'pipeline group offsets recorded in Kafka, 1 s after the stop → just before the restart',
      `${heldFrom.committed} → ${heldTo.committed} (topic end ${heldFrom.end} → ${heldTo.end})`,
    );
    figures.add('aggregate flushes failed (retried)', flushFailures);
    figures.add('consumer batches failed (retried)', batchFailures);
    figures.add('gateway queries while PostgreSQL was down', statusCount(duringQ));
    figures.add('  max latency of those, ms', Math.max(0, ...duringQ.map((p) => p.ms)));
    figures.add('gateway queries answered neither 200 nor 503 (whole run)', badQ.length);
    figures.add('gateway queries from 2 s after PostgreSQL was up', statusCount(afterQ));
    figures.add('converged after sending ended, s', s(convergedAt - sendEnd));
    addStoreFigures(figures, stores, inTopic.length);
    figures.add('total run, s', s(sendEnd - t0));

    expect(topicCheck.problems).toEqual(NO_PROBLEMS);
    expect(alive).toBe(true);
    // Nothing committed while the database was down, though tags kept coming.
    expect(heldTo.committed).toBe(heldFrom.committed);
    expect(heldTo.end).toBeGreaterThan(heldFrom.end);
    expect(downAfterStop).toBeDefined();
    expect(Number.isFinite(pipelineBackAt)).toBe(true);
    expect(pReady.filter((p) => p.at >= pipelineBackAt + 2_000 && p.status !== 200).map((p) => p.what)).toEqual([]);
    expect(badQ.map((p) => `${p.status} ${p.what}`).slice(0, 10)).toEqual([]);
    expect(duringQ.length).toBeGreaterThan(0);
    expect(duringQ.filter((p) => p.status !== 503).map((p) => `${p.status} ${p.what}`)).toEqual([]);
    expect(slowQ.map((p) => `${p.status} after ${p.ms} ms`)).toEqual([]);
    expect(afterQ.filter((p) => p.status !== 200).map((p) => `${p.status} ${p.what}`)).toEqual([]);
    expect(stores.bucketDiffs.slice(0, 10)).toEqual([]);
    expect(stores.countedPerAction).toEqual(stores.sentPerAction);
    expect(stores.listDiffs.slice(0, 10)).toEqual([]);
    expect(stores.profileRows).toBe(inTopic.length);
    passed = true;
  });
});
