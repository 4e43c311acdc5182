/**
 * SIGTERM to a gateway (real Kafka) under a steady stream of POST /user_tags: requests it was serving
 * complete (even ones whose body is still arriving), every tag answered 204 (before or during the
 * drain) is in Kafka exactly once, and the process stops by itself, gracefully, within its timeout.
 */
import { request } from 'node:http';
import { sleep } from '../../scripts/servers/process-utils';
import { AppProcess } from '../support/app.process';
import { createTestDatabase, TestDatabase, testKafkaBrokers, uniqueName } from '../support/test-env';
import { readTopicKeys } from './support/user-tags-topic.reader';

const tag = (cookie: string) =>
  JSON.stringify({
    time: '2022-03-22T12:15:00.000Z',
    cookie,
    country: 'PL',
    device: 'PC',
    action: 'VIEW',
    origin: 'drain',
    product_info: { product_id: 1, brand_id: 'b', category_id: 'c', price: 10 },
  });

interface Outcome {
  readonly cookie: string;
  readonly status?: number;
  readonly error?: string;
  readonly answeredAt: number;
}

/** A POST whose body arrives in two halves, the second when `finish` is called: in flight meanwhile. */
function slowPost(baseUrl: string, cookie: string): { finish: () => void; outcome: Promise<Outcome> } {
  const url = new URL(`${baseUrl}/user_tags`);
  const body = Buffer.from(tag(cookie));
  const req = request({
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'POST',
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  });
  const outcome = new Promise<Outcome>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ cookie, status: res.statusCode, answeredAt: Date.now() }));
    });
    req.on('error', (err) => resolve({ cookie, error: err.message, answeredAt: Date.now() }));
  });
  req.write(body.subarray(0, body.length >> 1));
  return { finish: () => req.end(body.subarray(body.length >> 1)), outcome };
}

describe('gateway SIGTERM under a steady stream of tags (real Kafka)', () => {
  let db: TestDatabase;
  let gateway: AppProcess;
  const topic = uniqueName('drain-user-tags');

  beforeAll(async () => {
    db = await createTestDatabase('gateway_drain');
    gateway = await AppProcess.start('gateway', uniqueName('gateway-drain'), {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      DATABASE_URL: db.url,
      TOPIC_USER_TAGS: topic,
      SHUTDOWN_TIMEOUT_MS: '15000',
    });
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.stop();
    await db?.drop();
  });

  it('finishes what it was serving, loses no tag it answered 204, and exits by itself', async () => {
    const outcomes: Outcome[] = [];
    let n = 0;
    let streaming = true;
    const sender = async (worker: number) => {
      while (streaming) {
        const cookie = `w${worker}-${n++}`;
        const outcome: Outcome = await fetch(`${gateway.url}/user_tags`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: tag(cookie),
        }).then(
          async (r) => ({ cookie, status: r.status, answeredAt: (await r.text(), Date.now()) }),
          (err: Error) => ({ cookie, error: String(err.cause ?? err.message), answeredAt: Date.now() }),
        );
        outcomes.push(outcome);
        if (outcome.error !== undefined) await sleep(20);
      }
    };
    const senders = Array.from({ length: 8 }, (_, w) => sender(w));
    while (outcomes.filter((o) => o.status === 204).length < 300) await sleep(10);

    const slow = Array.from({ length: 3 }, (_, i) => slowPost(gateway.url, `slow-${i}`));
    await sleep(200);
    const sigterm = Date.now();
    const stopped = gateway.stop(30_000);
    // The drain is under way (the HTTP server waits for the slow requests); then they finish.
    await sleep(1_000);
    slow.forEach((s) => s.finish());
    const slowOutcomes = await Promise.all(slow.map((s) => s.outcome));
    await stopped;
    streaming = false;
    await Promise.all(senders);

    expect(slowOutcomes.map((o) => [o.cookie, o.status ?? o.error])).toEqual([
      ['slow-0', 204],
      ['slow-1', 204],
      ['slow-2', 204],
    ]);
    expect(gateway.log(10)).toMatch(/SIGTERM: draining/);
    expect(gateway.log(5)).toMatch(/\] stopped/);
    expect(gateway.running).toBe(false);

    const acknowledged = [...outcomes, ...slowOutcomes].filter((o) => o.status === 204);
    expect(acknowledged.filter((o) => o.answeredAt > sigterm).length).toBeGreaterThan(0);
    // Anything else is a refusal the client knows about: 503 while closing, or no connection at all.
    const unexpected = outcomes.filter((o) => o.status !== undefined && o.status !== 204 && o.status !== 503);
    expect(unexpected).toEqual([]);

    const inKafka = new Map<string, number>();
    for (const key of await readTopicKeys(testKafkaBrokers(), topic)) inKafka.set(key, (inKafka.get(key) ?? 0) + 1);
    const lost = acknowledged.filter((o) => inKafka.get(o.cookie) === undefined).map((o) => o.cookie);
    const repeated = [...inKafka].filter(([, count]) => count > 1).map(([cookie]) => cookie);
    expect({ lost, repeated }).toEqual({ lost: [], repeated: [] });
  });
});
