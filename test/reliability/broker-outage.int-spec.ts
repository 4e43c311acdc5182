/**
 * Reliability suite, broker outage: Kafka is stopped for 10 s while tags stream through the gateway,
 * then started again on the same port and data dir. During the outage the gateway answers 503 within
 * its KAFKA_PRODUCE_TIMEOUT_MS (plus a small margin), never another 5xx, never hangs; once the broker is
 * back it answers 204 again; and every tag that got a 204 is in the topic exactly once (a 503'd tag may
 * or may not be there: a request in flight when the broker went can still land, but never twice). Once
 * the pipeline has caught up, the unfiltered cube counts every tag of the topic once and the profiles
 * hold each of them.
 *
 * The broker is the suite's own (scripts/servers/kafka-server.ts), never the shared test broker, which
 * other test files use in parallel; the database is one of the shared server's. The HTTP client runs in a
 * worker thread (support/paced-tags.ts), so a stall of the test's own event loop (starting the broker) is
 * not counted as the gateway's latency; every answer, with the moments of the outage, is kept in
 * .cache/reliability/broker-outage-answers.json.
 *
 * CI: `npx jest test/reliability/broker-outage.int-spec.ts --selectProjects integration` (200 tags/s,
 * 8 s before the outage, 10 s of outage, 10 s after recovery). Larger: RELIABILITY_FULL=1 (500 tags/s,
 * 20 s before, 30 s after); sizes by RELIABILITY_BROKER_OUTAGE_RATE, _BEFORE_SECONDS, _SECONDS, _AFTER_SECONDS.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import type { UserTag } from '@lib/domain';
import { SCHEMAS } from '@lib/kafka-avro/schemas/schema.catalog';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { sleep } from '../../scripts/servers/process-utils';
import { createTestDatabase, TestDatabase } from '../support/test-env';
import { Figures, FIGURES_DIR } from './support/figures';
import { PacedTagsThread, TagOutcome, TagShape, tagIndex } from './support/paced-tags';
import { FULL, size } from './support/sizes';
import { readTopic } from './support/topic.reader';
import { sql, UserTagsStack } from './support/user-tags-stack';

const RATE = size('BROKER_OUTAGE_RATE', 200, 500);
const BEFORE_S = size('BROKER_OUTAGE_BEFORE_SECONDS', 8, 20);
const OUTAGE_S = size('BROKER_OUTAGE_SECONDS', 10, 10);
const AFTER_S = size('BROKER_OUTAGE_AFTER_SECONDS', 10, 30);
/** The gateway's KAFKA_PRODUCE_TIMEOUT_MS (its default), and what an answer may take beyond it. */
const PRODUCE_TIMEOUT_MS = 1_000;
const MARGIN_MS = 500;
/** The client's own limit: an answer later than this is a hang. */
const CLIENT_TIMEOUT_MS = 10_000;
/** After the first 204 of the recovery, the gateway's other calls in hand may still fail for this long. */
const SETTLE_MS = 2_000;
const CONVERGE_MS = 120_000;
const SHAPE: TagShape = { prefix: 'bo', cookies: 1_000_000, stepMs: 10 };

jest.setTimeout((BEFORE_S + OUTAGE_S + AFTER_S) * 1000 + CONVERGE_MS + 240_000);

describe('broker outage: Kafka stopped for 10 s during ingest', () => {
  const figures = new Figures(
    'broker-outage',
    `${FULL ? 'RELIABILITY_FULL=1 ' : ''}npx jest test/reliability/broker-outage.int-spec.ts --selectProjects integration: ` +
      `${RATE} tags/s, ${BEFORE_S} s before the outage, broker down ${OUTAGE_S} s (SIGTERM, then started again on ` +
      `its port and data dir), ${AFTER_S} s after the gateway recovered; KAFKA_PRODUCE_TIMEOUT_MS=${PRODUCE_TIMEOUT_MS}, 4 partitions`,
  );
  let dataDir: string;
  let broker: KafkaServer | undefined;
  let db: TestDatabase;
  let stack: UserTagsStack;
  let passed = false;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'broker-outage-kafka-'));
    [broker, db] = await Promise.all([KafkaServer.start({ dataDir }), createTestDatabase('broker_outage')]);
    stack = await UserTagsStack.start({
      label: 'broker-outage',
      brokers: broker.brokers.join(','),
      databaseUrl: db.url,
      env: { LOG_LEVEL: 'warn' },
      gatewayEnv: { KAFKA_PRODUCE_TIMEOUT_MS: String(PRODUCE_TIMEOUT_MS) },
    });
  });

  afterAll(async () => {
    figures.report(passed ? 'passed' : 'failed');
    await stack?.stop();
    await broker?.stop();
    await db?.drop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 within the timeout while Kafka is down, recovers, and keeps every 204 exactly once', async () => {
    const server = broker as KafkaServer;
    const { port } = server;
    const client = new PacedTagsThread({
      url: stack.gateway.url,
      rate: RATE,
      shape: SHAPE,
      timeoutMs: CLIENT_TIMEOUT_MS,
    });
    const answers = client.outcomes;
    const loop = monitorEventLoopDelay({ resolution: 20 });
    const load = [loadavg()[0]];
    const t0 = Date.now();
    client.start();

    await sleep(BEFORE_S * 1000);
    // Reads and resets the gateway's maximum event-loop delay: the next read covers the outage.
    await stack.gateway.metric('nodejs_eventloop_lag_max_seconds');
    loop.enable();
    const stopAt = Date.now();
    broker = undefined;
    await server.stop();
    const exitedAt = Date.now();
    await sleep(Math.max(0, stopAt + OUTAGE_S * 1000 - Date.now()));
    const startAt = Date.now();
    broker = await KafkaServer.start({ dataDir, port });
    const readyAt = Date.now();

    // Recovered: the first 204 to a request sent after the old broker had exited.
    const recoveryDeadline = Date.now() + 90_000;
    let firstOk: TagOutcome | undefined;
    while ((firstOk = answers.find((a) => a.status === 204 && a.sentAt > exitedAt)) === undefined) {
      if (Date.now() > recoveryDeadline) break;
      await sleep(50);
    }
    const recoveredAt = firstOk?.answeredAt ?? Date.now();
    await sleep(Math.max(0, recoveredAt + AFTER_S * 1000 - Date.now()));
    const gatewayLagMs = (await stack.gateway.metric('nodejs_eventloop_lag_max_seconds')) * 1000;
    loop.disable();
    const outcomes = await client.stop();
    const sendEnd = Date.now();
    load.push(loadavg()[0]);
    const marks = { t0, stopAt, exitedAt, startAt, readyAt, recoveredAt };
    mkdirSync(FIGURES_DIR, { recursive: true });
    writeFileSync(join(FIGURES_DIR, 'broker-outage-answers.json'), JSON.stringify({ marks, outcomes }));

    // Phases by when the request was sent.
    const during = outcomes.filter((o) => o.sentAt >= stopAt && o.sentAt < recoveredAt);
    const after = outcomes.filter((o) => o.sentAt >= recoveredAt + SETTLE_MS);
    const byStatus = new Map<string, number>();
    for (const o of outcomes) byStatus.set(String(o.status), (byStatus.get(String(o.status)) ?? 0) + 1);
    const ok = outcomes.filter((o) => o.status === 204);
    const unavailable = outcomes.filter((o) => o.status === 503);
    const other = outcomes.filter((o) => o.status !== 204 && o.status !== 503);
    const latency = (o: TagOutcome) => o.answeredAt - o.sentAt;
    const maxDuring = Math.max(0, ...during.map(latency));
    const late = during.filter((o) => latency(o) > PRODUCE_TIMEOUT_MS + MARGIN_MS);
    const codes = new Map<string, number>();
    for (const o of unavailable) codes.set(o.code ?? '-', (codes.get(o.code ?? '-') ?? 0) + 1);

    // The whole topic: which tag each message is, how often.
    const messages = await readTopic<UserTag>(broker.brokers, stack.topic, SCHEMAS.userTag, 120_000);
    const copies = new Map<number, number>();
    let foreign = 0;
    for (const m of messages) {
      const i = tagIndex(m.value, SHAPE);
      if (i < 0) foreign += 1;
      else copies.set(i, (copies.get(i) ?? 0) + 1);
    }
    const duplicated = [...copies].filter(([, n]) => n > 1);
    const okMissing = ok.filter((o) => !copies.has(o.i));
    const unavailablePresent = unavailable.filter((o) => copies.has(o.i));

    const { at: convergedAt } = await stack.converged(CONVERGE_MS);
    const [[cube], [profiles]] = await Promise.all([
      sql<{ n: string | null }>(db.url, 'SELECT sum(count) AS n FROM minute_cube WHERE dims = 0'),
      sql<{ n: string; cookies: string }>(
        db.url,
        'SELECT count(*) AS n, count(DISTINCT cookie) AS cookies FROM profile_entry',
      ),
    ]);
    const counted = Number(cube?.n ?? 0);
    const profileRows = Number(profiles?.n ?? 0);

    const s = (ms: number) => (ms / 1000).toFixed(1);
    figures.add('tags sent', outcomes.length);
    figures.add('answered 204', ok.length);
    figures.add('answered 503', unavailable.length);
    figures.add('503 codes', [...codes].map(([c, n]) => `${c} ${n}`).join(', ') || '-');
    figures.add('other answers (other status, no answer, hang)', other.length);
    figures.add('sent during the outage (broker stopped → gateway recovered)', during.length);
    figures.add(
      '  of which 204 / 503',
      `${during.filter((o) => o.status === 204).length} / ${during.filter((o) => o.status === 503).length}`,
    );
    figures.add('max latency during the outage, ms', maxDuring);
    figures.add(`answers later than timeout + ${MARGIN_MS} ms`, late.length);
    figures.add(
      'event-loop delay max, ms: gateway (outage to recovery) / test process (same) / client thread (whole run)',
      `${gatewayLagMs.toFixed(0)} / ${(loop.max / 1e6).toFixed(0)} / ${client.loopMaxMs.toFixed(0)}`,
    );
    figures.add('machine load average (1 min) at start / end', load.map((l) => l.toFixed(1)).join(' / '));
    figures.add('broker stop (SIGTERM → exited), s', s(exitedAt - stopAt));
    figures.add('broker down (stop → start), s', s(startAt - stopAt));
    figures.add('broker restart (start → ready), s', s(readyAt - startAt));
    figures.add('gateway recovery (start → first 204), s', firstOk ? s(recoveredAt - startAt) : 'never');
    figures.add('non-204 after recovery + 2 s', after.filter((o) => o.status !== 204).length);
    figures.add('tags in the topic', messages.length);
    figures.add(
      '204-tags in the topic exactly once',
      `${ok.length - okMissing.length - ok.filter((o) => (copies.get(o.i) ?? 0) > 1).length} of ${ok.length}`,
    );
    figures.add('503-tags in the topic (at most once)', `${unavailablePresent.length} of ${unavailable.length}`);
    figures.add('tags in the topic more than once', duplicated.length);
    figures.add('counted in aggregates (unfiltered cube)', counted);
    figures.add('profile rows', profileRows);
    figures.add('pipeline converged after sending ended, s', s(convergedAt - sendEnd));
    figures.add('total run, s', s(sendEnd - t0));

    expect(firstOk).toBeDefined();
    expect(other.map((o) => `#${o.i} ${o.status} ${o.code ?? ''} after ${latency(o)} ms`).slice(0, 10)).toEqual([]);
    expect(during.filter((o) => o.status === 503).length).toBeGreaterThan(0);
    expect(late.map((o) => `#${o.i} ${o.status} after ${latency(o)} ms`).slice(0, 10)).toEqual([]);
    expect(after.filter((o) => o.status !== 204).map((o) => `#${o.i} ${o.status} ${o.code}`)).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
    expect(foreign).toBe(0);
    expect(okMissing.map((o) => o.i).slice(0, 10)).toEqual([]);
    expect(duplicated.slice(0, 10)).toEqual([]);
    expect(counted).toBe(copies.size);
    expect(profileRows).toBe(copies.size);
    passed = true;
  });
});
