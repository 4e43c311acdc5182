/**
 * Reliability suite, database frozen: every process of PostgreSQL is stopped with SIGSTOP for 8 s while
 * tags stream through the gateway, then resumed with SIGCONT. A frozen server is worse than a stopped
 * one: connections open (the kernel accepts them) and statements are sent, but nothing answers, so only
 * the client's own bounds end the wait. With DATABASE_QUERY_TIMEOUT_MS at 1 s, every profile,
 * aggregate and market query asked during the freeze answers 503 within the bound (plus scheduling slack), ingest
 * keeps answering 204 (tags go to Kafka, not to the database), the pipeline's writes time out and are
 * retried (DATABASE_WRITE_TIMEOUT_MS 2 s), queries answer 200 again soon after the thaw, and once the
 * pipeline has caught up both stores hold every tag of the topic exactly once.
 *
 * The PostgreSQL server is the suite's own (scripts/servers/postgres-server.ts); Kafka is the shared
 * broker (a topic of its own).
 *
 * CI: `npx jest test/reliability/db-freeze.int-spec.ts --selectProjects integration` (200 tags/s, 6 s
 * before, 8 s frozen, 8 s after). Larger: RELIABILITY_FULL=1 (500 tags/s, 20 s before, 30 s frozen, 30 s
 * after); sizes by RELIABILITY_DB_FREEZE_RATE, _BEFORE_SECONDS, _SECONDS, _AFTER_SECONDS.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { sleep } from '../../scripts/servers/process-utils';
import { testKafkaBrokers } from '../support/test-env';
import { Figures } from './support/figures';
import { PacedTags, TagShape } from './support/paced-tags';
import { poller, queryStatus, readiness, statusCount, storeQueryPaths } from './support/polls';
import { FULL, size } from './support/sizes';
import { addStoreFigures, checkStores } from './support/store-check';
import { checkTopic, NO_PROBLEMS } from './support/topic-check';
import { UserTagsStack } from './support/user-tags-stack';

const RATE = size('DB_FREEZE_RATE', 200, 500);
const BEFORE_S = size('DB_FREEZE_BEFORE_SECONDS', 6, 20);
const FROZEN_S = size('DB_FREEZE_SECONDS', 8, 30);
const AFTER_S = size('DB_FREEZE_AFTER_SECONDS', 8, 30);
/** The gateway's and pipeline's bounds under test. */
const READ_TIMEOUT_MS = 1_000;
const WRITE_TIMEOUT_MS = 2_000;
/** What a 503 during the freeze may take: the bound, plus slack for a busy 2-core box. */
const QUERY_BOUND_MS = READ_TIMEOUT_MS + 1_500;
/** A client-side give-up: an answer later than this is a hang. */
const HANG_MS = 15_000;
const CONVERGE_MS = 120_000;
/** Fewer than 200 tags per cookie and action, so profiles keep them all. */
const SHAPE: TagShape = { prefix: 'dbf', cookies: 400, stepMs: 50 };

jest.setTimeout((BEFORE_S + FROZEN_S + AFTER_S) * 1000 + CONVERGE_MS + 240_000);

describe('database frozen: PostgreSQL stopped with SIGSTOP during ingest', () => {
  const figures = new Figures(
    'db-freeze',
    `${FULL ? 'RELIABILITY_FULL=1 ' : ''}npx jest test/reliability/db-freeze.int-spec.ts --selectProjects integration: ` +
      `${RATE} tags/s, ${BEFORE_S} s before, every PostgreSQL process SIGSTOPped for ${FROZEN_S} s, ${AFTER_S} s after ` +
      `the thaw; DATABASE_QUERY_TIMEOUT_MS ${READ_TIMEOUT_MS}, DATABASE_WRITE_TIMEOUT_MS ${WRITE_TIMEOUT_MS}; ` +
      `${SHAPE.cookies} cookies, 4 partitions`,
  );
  let dir: string;
  let pg: PostgresServer | undefined;
  let frozen = false;
  let stack: UserTagsStack;
  let passed = false;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'db-freeze-'));
    chmodSync(dir, 0o755); // the server runs as `postgres` when we are root
    pg = await PostgresServer.start({ dataDir: join(dir, 'data'), logFile: join(dir, 'postgres.log') });
    stack = await UserTagsStack.start({
      label: 'db-freeze',
      brokers: testKafkaBrokers().join(','),
      databaseUrl: pg.url,
      env: {
        LOG_LEVEL: 'warn',
        DATABASE_QUERY_TIMEOUT_MS: String(READ_TIMEOUT_MS),
        DATABASE_WRITE_TIMEOUT_MS: String(WRITE_TIMEOUT_MS),
      },
    });
  });

  afterAll(async () => {
    figures.report(passed ? 'passed' : 'failed');
    if (frozen) pg?.signalAll('SIGCONT');
    await stack?.stop();
    await pg?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('queries answer 503 within the bound while frozen and 200 after; ingest goes on; nothing lost or doubled', async () => {
    const server = pg as PostgresServer;
    const client = new PacedTags({ url: stack.gateway.url, rate: RATE, shape: SHAPE, timeoutMs: HANG_MS });
    const query =
      (path: string, method: 'POST' | 'GET' = 'POST') =>
      () =>
        queryStatus(`${stack.gateway.url}${path}`, HANG_MS, method);
    const paths = storeQueryPaths(SHAPE);
    const profiles = poller(200, query(paths.profile));
    const aggregates = poller(200, query(paths.aggregates));
    // The market read side's API (a TypeORM Repository, bounded by the same setting).
    const market = poller(200, query('/market/latest', 'GET'));
    const pipelineReady = poller(200, () => readiness(stack.pipeline.url, HANG_MS));
    const t0 = Date.now();
    client.start();

    await sleep(BEFORE_S * 1000);
    const freezeAt = Date.now();
    const processes = server.signalAll('SIGSTOP');
    frozen = true;
    await sleep(FROZEN_S * 1000);
    const thawAt = Date.now();
    server.signalAll('SIGCONT');
    frozen = false;
    await sleep(AFTER_S * 1000);
    const outcomes = await client.stop();
    const sendEnd = Date.now();
    const [pQueries, aQueries, mQueries, pReady] = await Promise.all([
      profiles.stop(),
      aggregates.stop(),
      market.stop(),
      pipelineReady.stop(),
    ]);
    const { at: convergedAt } = await stack.converged(CONVERGE_MS);
    const alive = stack.pipeline.running;
    const [flushFailures, batchFailures] = await Promise.all([
      stack.pipeline.metric('pipeline_aggregate_flush_failures_total'),
      stack.pipeline.metric('kafka_consumer_batch_failures_total'),
    ]);

    const topicCheck = await checkTopic(stack.topic, outcomes, SHAPE);
    const { ok, notOk, inTopic } = topicCheck;
    const duringFreeze = outcomes.filter((o) => o.sentAt >= freezeAt && o.sentAt < thawAt);
    const stores = await checkStores(server.url, inTopic);

    const queries = [...pQueries, ...aQueries, ...mQueries];
    // Asked while frozen, early enough that the bound ends before the thaw: each must be a 503 in time.
    const frozenQ = queries.filter((p) => p.at >= freezeAt && p.at + QUERY_BOUND_MS < thawAt);
    const lateQ = frozenQ.filter((p) => p.ms > QUERY_BOUND_MS);
    const badQ = queries.filter((p) => p.status !== 200 && p.status !== 503);
    const afterQ = queries.filter((p) => p.at >= thawAt + 3_000);
    const pipelineDown = pReady.find((p) => p.at >= freezeAt && p.status !== 200);
    const pipelineBack = pReady.find((p) => p.at >= thawAt && p.status === 200);

    const s = (ms: number) => (ms / 1000).toFixed(1);
    figures.add('PostgreSQL processes frozen', processes);
    figures.add('tags sent / answered 204', `${outcomes.length} / ${ok.length}`);
    figures.add(
      'tags sent while frozen / answered 204',
      `${duringFreeze.length} / ${duringFreeze.filter((o) => o.status === 204).length}`,
    );
    figures.add(
      'other answers (only 503 KAFKA_UNAVAILABLE allowed: the shared broker slow)',
      notOk.length === 0 ? 0 : [...new Set(notOk.map((o) => `${o.status} ${o.code}`))].join(', '),
    );
    figures.add('tags in the topic / twice', `${topicCheck.messages} / ${topicCheck.problems.duplicated.length}`);
    figures.add('queries asked while frozen (bound ends before the thaw)', statusCount(frozenQ));
    figures.add('  their latency, max ms', Math.max(0, ...frozenQ.map((p) => p.ms)));
    figures.add('queries answered neither 200 nor 503 (whole run)', badQ.length);
    figures.add('queries from 3 s after the thaw', statusCount(afterQ));
    figures.add('pipeline readiness down, s after the freeze', pipelineDown ? s(pipelineDown.at - freezeAt) : 'never');
    figures.add('pipeline readiness back, s after the thaw', pipelineBack ? s(pipelineBack.at - thawAt) : 'never');
    figures.add('pipeline process alive, restarts', `${alive ? 'yes' : 'NO'}, ${stack.restarts}`);
    figures.add('aggregate flushes failed (retried)', flushFailures);
    figures.add('consumer batches failed (retried)', batchFailures);
    figures.add('converged after sending ended, s', s(convergedAt - sendEnd));
    addStoreFigures(figures, stores, inTopic.length);
    figures.add('total run, s', s(sendEnd - t0));

    expect(processes).toBeGreaterThan(1);
    expect(topicCheck.problems).toEqual(NO_PROBLEMS);
    expect(duringFreeze.length).toBeGreaterThan(0);
    expect(frozenQ.length).toBeGreaterThan(0);
    expect(frozenQ.filter((p) => p.status !== 503).map((p) => `${p.status} ${p.what}`)).toEqual([]);
    expect(lateQ.map((p) => `${p.status} after ${p.ms} ms`)).toEqual([]);
    expect(badQ.map((p) => `${p.status} ${p.what}`).slice(0, 10)).toEqual([]);
    expect(afterQ.length).toBeGreaterThan(0);
    expect(afterQ.filter((p) => p.status !== 200).map((p) => `${p.status} ${p.what}`)).toEqual([]);
    expect(alive).toBe(true);
    expect(stores.bucketDiffs.slice(0, 10)).toEqual([]);
    expect(stores.countedPerAction).toEqual(stores.sentPerAction);
    expect(stores.listDiffs.slice(0, 10)).toEqual([]);
    expect(stores.profileRows).toBe(inTopic.length);
    passed = true;
  });
});
