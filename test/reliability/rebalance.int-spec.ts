/**
 * Reliability suite, rebalances: several pipeline processes share the user-tag stream's consumer group
 * while tags stream through the gateway. A second pipeline joins mid-run, the first is stopped gracefully
 * (SIGTERM: it flushes what it counted, then leaves the group), a third joins, and the second is
 * SIGKILLed (nothing flushed; its partitions move to the survivor after the session timeout). Every
 * membership change moves partitions between processes while batches are in flight, which is where a
 * partition can be counted twice (two owners), skipped (a fenced flush whose partition is then never
 * counted again), or left unread. Afterwards: every partition's offsets (profiles in Kafka, aggregates in
 * PostgreSQL) reach the topic's end within 10 s of the last tag, and both stores hold every tag of the
 * topic exactly once (per action, per minute bucket, per cookie and action list).
 *
 * PostgreSQL and Kafka are the integration run's shared servers (a database, topic and group of its own).
 *
 * CI: `npx jest test/reliability/rebalance.int-spec.ts --selectProjects integration` (300 tags/s, 6
 * partitions, about 50 s). Larger: RELIABILITY_FULL=1 (1,000 tags/s); sizes by RELIABILITY_REBALANCE_RATE,
 * _STEP_SECONDS (time between membership changes), _TAIL_SECONDS (sending after the last change).
 */
import { sleep } from '../../scripts/servers/process-utils';
import type { AppProcess } from '../support/app.process';
import { createTestDatabase, TestDatabase, testKafkaBrokers } from '../support/test-env';
import { Figures } from './support/figures';
import { PacedTags, TagShape } from './support/paced-tags';
import { FULL, size } from './support/sizes';
import { addStoreFigures, checkStores } from './support/store-check';
import { checkTopic, NO_PROBLEMS } from './support/topic-check';
import { UserTagsStack } from './support/user-tags-stack';

const RATE = size('REBALANCE_RATE', 300, 1_000);
const STEP_S = size('REBALANCE_STEP_SECONDS', 8, 15);
const TAIL_S = size('REBALANCE_TAIL_SECONDS', 12, 20);
const PARTITIONS = 6;
/** Lag back to 0 on every partition within this of the last tag sent (the bound). */
const CAUGHT_UP_MS = 10_000;
const HANG_MS = 15_000;
/** Fewer than 200 tags per cookie and action, so profiles keep them all. */
const SHAPE: TagShape = { prefix: 'rbl', cookies: 2_000, stepMs: 20 };

jest.setTimeout(4 * STEP_S * 1000 + TAIL_S * 1000 + 300_000);

describe('rebalances: pipelines join, stop gracefully and die during ingest', () => {
  const figures = new Figures(
    'rebalance',
    `${FULL ? 'RELIABILITY_FULL=1 ' : ''}npx jest test/reliability/rebalance.int-spec.ts --selectProjects integration: ` +
      `${RATE} tags/s, ${PARTITIONS} partitions, a membership change every ${STEP_S} s (B joins, A stops with ` +
      `SIGTERM, C joins, B gets SIGKILL), ${TAIL_S} s of tags after the last; ${SHAPE.cookies} cookies`,
  );
  let db: TestDatabase;
  let stack: UserTagsStack;
  let passed = false;

  beforeAll(async () => {
    db = await createTestDatabase('rebalance');
    stack = await UserTagsStack.start({
      label: 'rebalance',
      brokers: testKafkaBrokers().join(','),
      databaseUrl: db.url,
      partitions: PARTITIONS,
      env: { LOG_LEVEL: 'warn' },
    });
  });

  afterAll(async () => {
    figures.report(passed ? 'passed' : 'failed');
    await stack?.stop();
    await db?.drop();
  });

  it('every partition caught up within 10 s of the last tag; every tag counted and stored once', async () => {
    const a = stack.pipeline;
    const client = new PacedTags({ url: stack.gateway.url, rate: RATE, shape: SHAPE, timeoutMs: HANG_MS });
    const t0 = Date.now();
    const s = (ms: number) => (ms / 1000).toFixed(1);
    const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
    client.start();

    await at(STEP_S * 1000);
    const bStart = Date.now();
    const b: AppProcess = await stack.addPipeline();
    figures.add('B joined (started → ready), s from the start', `${s(bStart - t0)} → ${s(Date.now() - t0)}`);

    await at(2 * STEP_S * 1000);
    const aStop = Date.now();
    const aExit = await a.stop(30_000);
    figures.add('A stopped (SIGTERM → exited), s from the start', `${s(aStop - t0)} → ${s(Date.now() - t0)}`);
    figures.add('A exit code', String(aExit));

    await at(3 * STEP_S * 1000);
    const cStart = Date.now();
    const c: AppProcess = await stack.addPipeline();
    figures.add('C joined (started → ready), s from the start', `${s(cStart - t0)} → ${s(Date.now() - t0)}`);

    await at(4 * STEP_S * 1000);
    const lastChange = Date.now();
    await b.kill();
    figures.add('B SIGKILLed, s from the start', s(lastChange - t0));

    // From the kill until the survivor has every partition again (they resume from the stored offsets).
    const before = await stack.partitions();
    let takeoverAt: number | undefined;
    while (Date.now() < lastChange + TAIL_S * 1000) {
      if (takeoverAt === undefined) {
        const now = await stack.partitions().catch(() => undefined);
        if (now?.every((p, i) => p.aggregates > before[i].aggregates)) takeoverAt = Date.now();
      }
      await sleep(250);
    }
    const outcomes = await client.stop();
    const sendEnd = Date.now();

    // Every partition's offsets at its end, both stores.
    let caughtUpAt: number | undefined;
    let last: Awaited<ReturnType<UserTagsStack['partitions']>> = [];
    while (Date.now() < sendEnd + CAUGHT_UP_MS + 60_000) {
      last = await stack.partitions().catch(() => last);
      if (last.length === PARTITIONS && last.every((p) => p.profiles === p.end && p.aggregates === p.end)) {
        caughtUpAt = Date.now();
        break;
      }
      await sleep(100);
    }

    const topicCheck = await checkTopic(stack.topic, outcomes, SHAPE);
    const { ok, notOk, inTopic } = topicCheck;
    const stores = await checkStores(db.url, inTopic);
    const [flushFailures, survivorAlive] = [await c.metric('pipeline_aggregate_flush_failures_total'), c.running];

    figures.add(
      'survivor C has every partition again, s after the kill',
      takeoverAt ? s(takeoverAt - lastChange) : 'not within the tail',
    );
    figures.add('tags sent / answered 204', `${outcomes.length} / ${ok.length}`);
    figures.add(
      'other answers (only 503 KAFKA_UNAVAILABLE allowed: the shared broker slow)',
      notOk.length === 0 ? 0 : [...new Set(notOk.map((o) => `${o.status} ${o.code}`))].join(', '),
    );
    figures.add('tags in the topic / twice', `${topicCheck.messages} / ${topicCheck.problems.duplicated.length}`);
    figures.add(
      'lag 0 on every partition (both stores), s after the last tag',
      caughtUpAt ? s(caughtUpAt - sendEnd) : `not yet: ${JSON.stringify(last)}`,
    );
    figures.add('aggregate flushes failed on C (retried or fenced)', flushFailures);
    addStoreFigures(figures, stores, inTopic.length);
    figures.add('total run, s', s(sendEnd - t0));

    expect(aExit).toBe(0);
    expect(survivorAlive).toBe(true);
    expect(topicCheck.problems).toEqual(NO_PROBLEMS);
    expect(caughtUpAt).toBeDefined();
    expect((caughtUpAt ?? Number.POSITIVE_INFINITY) - sendEnd).toBeLessThanOrEqual(CAUGHT_UP_MS);
    expect(stores.bucketDiffs.slice(0, 10)).toEqual([]);
    expect(stores.countedPerAction).toEqual(stores.sentPerAction);
    expect(stores.listDiffs.slice(0, 10)).toEqual([]);
    expect(stores.profileRows).toBe(inTopic.length);
    passed = true;
  });
});
