import { AppProcess } from '../support/app.process';
import { createTestDatabase, testKafkaBrokers, TestDatabase, uniqueName } from '../support/test-env';
import { AggregatesQuery, expectedAggregates, queryString } from './aggregate-model';
import { Tag, inParallel, prng } from './tag-model';

/**
 * Issue 5 end to end: minute aggregates through the real broker into PostgreSQL, checked against a
 * model that scans the tags; then the aggregator is killed with SIGKILL mid-stream, repeatedly.
 */
const T0 = Date.parse('2022-03-01T00:00:00.000Z');
const noZone = (ms: number) => new Date(ms).toISOString().slice(0, 19);

function tagStream(seed: number, n: number, spanMs: number): Tag[] {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  return Array.from({ length: n }, (_, i) => ({
    time: new Date(T0 + Math.floor((i / n) * spanMs) + Math.floor(random() * 1000)).toISOString(),
    cookie: `cookie-${Math.floor(random() * 500)}`,
    country: 'PL',
    device: pick(['PC', 'MOBILE', 'TV'] as const),
    action: pick(['VIEW', 'BUY'] as const),
    origin: `origin-${Math.floor(random() * 4)}`,
    product_info: {
      product_id: Math.floor(random() * 1000),
      brand_id: `brand-${Math.floor(random() * 3)}`,
      category_id: `cat-${Math.floor(random() * 3)}`,
      price: random() < 0.01 ? 2_147_483_647 : Math.floor(random() * 10_000),
    },
  }));
}

function randomQuery(random: () => number, tags: readonly Tag[], spanMinutes: number): AggregatesQuery {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const fromMinute = Math.floor(random() * (spanMinutes + 4)) - 2;
  const minutes = 1 + Math.floor(random() * 10);
  const sample = pick(tags);
  const q: AggregatesQuery = {
    from: noZone(T0 + fromMinute * 60_000),
    to: noZone(T0 + (fromMinute + minutes) * 60_000),
    action: pick(['VIEW', 'BUY'] as const),
    aggregates: pick([['COUNT'], ['SUM_PRICE'], ['COUNT', 'SUM_PRICE'], ['SUM_PRICE', 'COUNT']] as const).slice(),
  };
  // Every subset of the filters, with values that exist and sometimes one that does not.
  if (random() < 0.5) q.origin = random() < 0.9 ? sample.origin : 'origin-none';
  if (random() < 0.5) q.brand_id = sample.product_info.brand_id;
  if (random() < 0.5) q.category_id = sample.product_info.category_id;
  return q;
}

interface Env {
  db: TestDatabase;
  env: Record<string, string>;
}

async function environment(label: string): Promise<Env> {
  const db = await createTestDatabase(label);
  return {
    db,
    env: {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      DATABASE_URL: db.url,
      TOPIC_USER_TAGS: uniqueName('user-tags'),
      AGGREGATES_GROUP_ID: uniqueName('aggregates'),
      KAFKA_TOPIC_PARTITIONS: '4',
      DEBUG_COMPARE: 'true',
      AGG_FLUSH_INTERVAL_MS: '300',
    },
  };
}

async function post(gateway: AppProcess, t: Tag): Promise<void> {
  const res = await fetch(`${gateway.url}/user_tags`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(t),
  });
  if (res.status !== 204) throw new Error(`POST /user_tags: ${res.status} ${await res.text()}`);
}

async function aggregates(gateway: AppProcess, q: AggregatesQuery, expected?: unknown) {
  const res = await fetch(`${gateway.url}/aggregates?${queryString(q)}`, {
    method: 'POST',
    ...(expected === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(expected) }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { columns: string[]; rows: string[][] };
}

/** Waits until the unfiltered per-minute counts of the whole span equal the model's (converged). */
async function converged(gateway: AppProcess, tags: readonly Tag[], spanMinutes: number): Promise<void> {
  const deadline = Date.now() + 90_000;
  for (let m = 0; m < spanMinutes; m += 10) {
    for (const action of ['VIEW', 'BUY'] as const) {
      const q: AggregatesQuery = {
        from: noZone(T0 + m * 60_000),
        to: noZone(T0 + Math.min(m + 10, spanMinutes) * 60_000),
        action,
        aggregates: ['COUNT', 'SUM_PRICE'],
      };
      const want = expectedAggregates(tags, q);
      for (;;) {
        const got = await aggregates(gateway, q);
        if (JSON.stringify(got) === JSON.stringify(want)) break;
        if (Date.now() > deadline) expect(got).toEqual(want);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}

describe('minute aggregates (real Kafka, PostgreSQL, gateway and pipeline processes)', () => {
  let setup: Env;
  let gateway: AppProcess;
  let pipeline: AppProcess;

  beforeAll(async () => {
    setup = await environment('aggregates_e2e');
    pipeline = await AppProcess.start('pipeline', uniqueName('agg-e2e-pipeline'), setup.env);
    await pipeline.ready();
    gateway = await AppProcess.start('gateway', uniqueName('agg-e2e-gateway'), setup.env);
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.stop();
    await pipeline?.stop();
    await setup?.db.drop();
  });

  it('answers hundreds of random queries exactly like the model, late tags in their own minute', async () => {
    const span = 30;
    const tags = tagStream(7, 3_000, span * 60_000);
    // Late and out of order: the second half first, then the first half, then stragglers from the start.
    const late = tagStream(8, 200, 5 * 60_000);
    await inParallel([...tags.slice(1_500), ...tags.slice(0, 1_500)], 32, (t) => post(gateway, t));
    await inParallel(late, 16, (t) => post(gateway, t));
    const all = [...tags, ...late];
    await converged(gateway, all, span);

    const random = prng(99);
    const wrong: string[] = [];
    for (let i = 0; i < 400; i++) {
      const q = randomQuery(random, all, span);
      const want = expectedAggregates(all, q);
      const got = await aggregates(gateway, q, want);
      if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${queryString(q)}: ${JSON.stringify(got)}`);
    }
    expect(wrong).toEqual([]);
    expect(await gateway.metric('debug_comparisons_total', { endpoint: 'aggregates', result: 'mismatch' })).toBe(0);
    expect(await gateway.metric('debug_comparisons_total', { endpoint: 'aggregates', result: 'match' })).toBe(400);
  });
});

describe('minute aggregates when the pipeline is killed with SIGKILL mid-stream', () => {
  let setup: Env;
  let gateway: AppProcess;
  let pipeline: AppProcess;

  beforeAll(async () => {
    setup = await environment('aggregates_crash');
    pipeline = await AppProcess.start('pipeline', uniqueName('agg-crash-pipeline-0'), setup.env);
    await pipeline.ready();
    gateway = await AppProcess.start('gateway', uniqueName('agg-crash-gateway'), setup.env);
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.stop();
    await pipeline?.stop();
    await setup?.db.drop();
  });

  it('neither loses nor double-counts a tag across five kills and restarts', async () => {
    const span = 20;
    const tags = tagStream(11, 6_000, span * 60_000);
    const random = prng(5);
    let sending = true;
    const sender = inParallel(tags, 16, (t) => post(gateway, t)).finally(() => {
      sending = false;
    });
    let kills = 0;
    while (kills < 5) {
      await new Promise((r) => setTimeout(r, 500 + Math.floor(random() * 1_500)));
      await pipeline.kill();
      kills += 1;
      pipeline = await AppProcess.start('pipeline', uniqueName(`agg-crash-pipeline-${kills}`), setup.env);
      await pipeline.ready();
      if (!sending && kills >= 5) break;
    }
    await sender;
    await converged(gateway, tags, span);
    const check = prng(77);
    for (let i = 0; i < 100; i++) {
      const q = randomQuery(check, tags, span);
      expect(await aggregates(gateway, q)).toEqual(expectedAggregates(tags, q));
    }
    expect(kills).toBe(5);
  });
});
