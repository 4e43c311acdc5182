/**
 * SIGTERM to the pipeline (real Kafka and PostgreSQL) while tags stream in: it stops consuming,
 * flushes what the aggregator counted together with the offsets it covers, commits the profiles
 * consumer, and exits by itself; restarted, it carries on so that the aggregates end up exact
 * (nothing lost, nothing counted twice) and every tag is in its profile.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { sleep } from '../../scripts/servers/process-utils';
import { AppProcess } from '../support/app.process';
import { createTestDatabase, TestDatabase, testKafkaBrokers, uniqueName } from '../support/test-env';
import { AggregatesQuery, expectedAggregates, queryString } from '../user-tags/aggregate-model';
import { inParallel, prng, Tag } from '../user-tags/tag-model';

const T0 = Date.parse('2022-03-01T00:00:00.000Z');
const SPAN_MINUTES = 10;

function tagStream(seed: number, n: number): Tag[] {
  const random = prng(seed);
  return Array.from({ length: n }, (_, i) => ({
    time: new Date(T0 + Math.floor(random() * SPAN_MINUTES * 60_000)).toISOString(),
    cookie: `cookie-${Math.floor(random() * 300)}`,
    country: 'PL',
    device: 'PC',
    action: random() < 0.5 ? 'VIEW' : 'BUY',
    origin: `origin-${Math.floor(random() * 3)}`,
    // Distinct tags: each one is one row of its profile.
    product_info: { product_id: i, brand_id: 'b', category_id: 'c', price: Math.floor(random() * 10_000) },
  }));
}

async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('pipeline SIGTERM mid-stream (real Kafka and PostgreSQL)', () => {
  let db: TestDatabase;
  let gateway: AppProcess;
  let pipeline: AppProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    db = await createTestDatabase('pipeline_drain');
    env = {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      DATABASE_URL: db.url,
      TOPIC_USER_TAGS: uniqueName('drain-tags'),
      AGGREGATES_GROUP_ID: uniqueName('aggregates'),
      KAFKA_TOPIC_PARTITIONS: '4',
    };
    // No periodic flush in the first run: whatever is counted when it stops is written by the shutdown.
    pipeline = await AppProcess.start('pipeline', uniqueName('pipeline-drain-0'), {
      ...env,
      AGG_FLUSH_INTERVAL_MS: '60000',
    });
    await pipeline.ready();
    gateway = await AppProcess.start('gateway', uniqueName('pipeline-drain-gateway'), env);
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.stop();
    await pipeline?.stop();
    await db?.drop();
  });

  it('flushes and commits on SIGTERM, and after a restart the aggregates are exact', async () => {
    const tags = tagStream(3, 3_000);
    let posted = 0;
    const sending = inParallel(tags, 8, async (t) => {
      const res = await fetch(`${gateway.url}/user_tags`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(t),
      });
      if (res.status !== 204) throw new Error(`POST /user_tags: ${res.status} ${await res.text()}`);
      posted += 1;
    });
    while (posted < 1_000) await sleep(10);

    await pipeline.stop(30_000);
    expect(pipeline.log(5)).toMatch(/\] stopped/);
    // The aggregator's last flush wrote the deltas with the offsets they cover, in one transaction.
    const [stored] = await query<{ offsets: string; counted: string }>(
      db.url,
      `SELECT (SELECT coalesce(sum(next_offset), 0) FROM consumer_offset WHERE group_id = $1) AS offsets,
              (SELECT coalesce(sum(count), 0) FROM minute_cube WHERE dims = 0) AS counted`,
      [env.AGGREGATES_GROUP_ID],
    );
    expect(Number(stored.offsets)).toBeGreaterThan(0);
    expect(Number(stored.counted)).toBe(Number(stored.offsets));
    // The last flush's offsets were recorded in Kafka too (for lag monitoring) before leaving.
    const admin = new Kafka({ brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const [committed] = await admin.fetchOffsets({ groupId: env.AGGREGATES_GROUP_ID, topics: [env.TOPIC_USER_TAGS] });
    await admin.disconnect();
    expect(committed.partitions.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0)).toBeGreaterThan(0);

    pipeline = await AppProcess.start('pipeline', uniqueName('pipeline-drain-1'), {
      ...env,
      AGG_FLUSH_INTERVAL_MS: '300',
    });
    await pipeline.ready();
    await sending;

    const from = new Date(T0).toISOString().slice(0, 19);
    const to = new Date(T0 + SPAN_MINUTES * 60_000).toISOString().slice(0, 19);
    const deadline = Date.now() + 90_000;
    for (const action of ['VIEW', 'BUY'] as const) {
      const q: AggregatesQuery = { from, to, action, aggregates: ['COUNT', 'SUM_PRICE'] };
      const want = expectedAggregates(tags, q);
      for (;;) {
        const got = await (await fetch(`${gateway.url}/aggregates?${queryString(q)}`, { method: 'POST' })).json();
        if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > deadline) {
          expect(got).toEqual(want);
          break;
        }
        await sleep(250);
      }
    }
    for (;;) {
      const [{ n }] = await query<{ n: string }>(db.url, 'SELECT count(*) AS n FROM profile_entry');
      if (Number(n) === tags.length || Date.now() > deadline) {
        expect(Number(n)).toBe(tags.length);
        break;
      }
      await sleep(250);
    }
  });
});
