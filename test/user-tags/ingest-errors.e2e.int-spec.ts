import { defaultSchemaCatalog } from '@lib/kafka-avro/schemas/schema.catalog';
import { SingleObjectSerde } from '@lib/kafka-avro/serde/single-object.serde';
import { Kafka, logLevel } from 'kafkajs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { AppProcess } from '../support/app.process';
import { createTestDatabase, testKafkaBrokers, TestDatabase, uniqueName } from '../support/test-env';
import { Tag } from './tag-model';

const good: Tag = {
  time: '2022-03-22T12:15:00.000Z',
  cookie: 'bad-input-cookie',
  country: 'PL',
  device: 'PC',
  action: 'VIEW',
  origin: 'o',
  product_info: { product_id: 1, brand_id: 'b', category_id: 'c', price: 100 },
};

type Json = Record<string, unknown>;
const without = (o: object, key: string): Json => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
const withInfo = (patch: Json): Json => ({ ...good, product_info: { ...good.product_info, ...patch } });

/** Every message of `topic`, decoded, read from the beginning to the current end offsets. */
async function readAll(brokers: string[], topic: string): Promise<Tag[]> {
  const kafka = new Kafka({ clientId: 'ingest-errors-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  const serde = new SingleObjectSerde(defaultSchemaCatalog());
  const consumer = kafka.consumer({ groupId: uniqueName('ingest-errors-reader'), maxWaitTimeInMs: 100 });
  const out: Tag[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.push(serde.decode<Tag>(topic, 'analytics.UserTag', message.value as Buffer));
    },
  });
  const deadline = Date.now() + 30_000;
  while (out.length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await consumer.disconnect();
  return out;
}

async function postRaw(url: string, body: string, contentType = 'application/json') {
  const res = await fetch(`${url}/user_tags`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as { code: string; message: string; field?: string }) : undefined,
  };
}

describe('POST /user_tags and queries with bad input (real gateway and Kafka)', () => {
  let db: TestDatabase;
  let gateway: AppProcess;
  let topic: string;

  beforeAll(async () => {
    db = await createTestDatabase('ingest_errors');
    topic = uniqueName('user-tags');
    gateway = await AppProcess.start('gateway', uniqueName('ingest-errors-gateway'), {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      DATABASE_URL: db.url,
      TOPIC_USER_TAGS: topic,
      BODY_LIMIT_BYTES: '4096',
    });
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.stop();
    await db?.drop();
  });

  it.each<[string, unknown, string, string]>([
    ['a missing field', without(good, 'country'), 'country', 'country is required'],
    [
      'a missing product field',
      { ...good, product_info: without(good.product_info, 'price') },
      'product_info.price',
      'product_info.price is required',
    ],
    ['an extra field', { ...good, referrer: 'x' }, 'body', 'unknown property "referrer"'],
    ['an extra product field', withInfo({ color: 'red' }), 'product_info', 'unknown property "color"'],
    ['a bad device', { ...good, device: 'FRIDGE' }, 'device', 'device must be one of PC, MOBILE, TV'],
    ['a bad action', { ...good, action: 'CLICK' }, 'action', 'action must be one of VIEW, BUY'],
    ['a lower-case enum', { ...good, action: 'view' }, 'action', 'action must be one of VIEW, BUY'],
    ['a price as a string', withInfo({ price: '100' }), 'product_info.price', 'product_info.price must be integer'],
    ['a fractional price', withInfo({ price: 1.5 }), 'product_info.price', 'product_info.price must be integer'],
    [
      'a price above int32',
      withInfo({ price: 2_147_483_648 }),
      'product_info.price',
      'product_info.price must be <= 2147483647',
    ],
    [
      'a price below int32',
      withInfo({ price: -2_147_483_649 }),
      'product_info.price',
      'product_info.price must be >= -2147483648',
    ],
    [
      'a fractional product_id',
      withInfo({ product_id: 1.5 }),
      'product_info.product_id',
      'must be a string or an integer',
    ],
    [
      'a boolean product_id',
      withInfo({ product_id: true }),
      'product_info.product_id',
      'must be a string or an integer',
    ],
    ['an empty cookie', { ...good, cookie: '' }, 'cookie', 'cookie must NOT have fewer than 1 characters'],
    ['a huge cookie', { ...good, cookie: 'x'.repeat(257) }, 'cookie', 'cookie must NOT have more than 256 characters'],
    ['a null origin', { ...good, origin: null }, 'origin', 'origin must be string'],
    ['a time without zone', { ...good, time: '2022-03-22T12:15:00.000' }, 'time', 'time must match pattern'],
    ['a local time', { ...good, time: '2022-03-22T12:15:00+01:00' }, 'time', 'time must match pattern'],
    [
      'an impossible date',
      { ...good, time: '2022-02-30T12:15:00.000Z' },
      'time',
      'time must be an ISO-8601 UTC timestamp',
    ],
    // One tag from the far future would move the newest bucket, and retention with it (issue 15).
    ['a time far in the future', { ...good, time: '2099-01-01T00:00:00.000Z' }, 'time', 'ahead of the server'],
    [
      'a time 10 minutes ahead (the default skew allowed is 5)',
      { ...good, time: new Date(Date.now() + 600_000).toISOString() },
      'time',
      'at most 300000 ms ahead',
    ],
    ['a number as body', 42, 'body', 'body must be object'],
    ['an array as body', [good], 'body', 'body must be object'],
  ])('rejects %s with 400 naming the field', async (_what, tag, field, message) => {
    const res = await postRaw(gateway.url, JSON.stringify(tag));
    expect(res.status).toBe(400);
    expect(res.body?.field).toBe(field);
    expect(res.body?.message).toContain(message);
  });

  it('rejects invalid JSON, other media types and bodies over the limit', async () => {
    expect(await postRaw(gateway.url, '{"time":')).toMatchObject({ status: 400, body: { code: 'INVALID_JSON' } });
    expect(await postRaw(gateway.url, JSON.stringify(good), 'text/plain')).toMatchObject({
      status: 415,
      body: { code: 'UNSUPPORTED_MEDIA_TYPE' },
    });
    expect(await postRaw(gateway.url, 'a=1', 'application/x-www-form-urlencoded')).toMatchObject({ status: 415 });
    const huge = JSON.stringify({ ...good, origin: 'o'.repeat(5_000) });
    expect(await postRaw(gateway.url, huge)).toMatchObject({ status: 413, body: { code: 'BODY_TOO_LARGE' } });
  });

  it.each([
    ['user_profiles/c?time_range=2022-03-22T12:15:00.000_2022-03-22T12:14:00.000', 'TIME_RANGE_ORDER'],
    ['user_profiles/c?time_range=yesterday', 'TIME_RANGE_FORMAT'],
    ['user_profiles/c?time_range=2022-03-22T12:15:00.000_2022-03-22T12:16:00.000&limit=0', 'INVALID_QUERY'],
    ['user_profiles/c?time_range=2022-03-22T12:15:00.000_2022-03-22T12:16:00.000&limit=201', 'INVALID_QUERY'],
    ['user_profiles/c?time_range=2022-03-22T12:15:00.000_2022-03-22T12:16:00.000&limt=5', 'INVALID_QUERY'],
    [
      'aggregates?time_range=2022-03-01T00:05:30_2022-03-01T00:07:00&action=BUY&aggregates=COUNT',
      'TIME_RANGE_NOT_WHOLE_MINUTES',
    ],
    [
      'aggregates?time_range=2022-03-01T00:05:00_2022-03-01T00:17:00&action=BUY&aggregates=COUNT',
      'TIME_RANGE_TOO_LONG',
    ],
    ['aggregates?time_range=2022-03-01T00:05:00_2022-03-01T00:07:00&action=BUY', 'INVALID_QUERY'],
    ['aggregates?time_range=2022-03-01T00:05:00_2022-03-01T00:07:00&action=BUY&aggregates=AVG', 'INVALID_QUERY'],
    [
      'aggregates?time_range=2022-03-01T00:05:00_2022-03-01T00:07:00&action=BUY&aggregates=COUNT&country=PL',
      'INVALID_QUERY',
    ],
  ])('rejects the query %s with 400 %s', async (path, code) => {
    const res = await fetch(`${gateway.url}/${path}`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code });
  });

  it('wrote nothing for any of them', async () => {
    expect(await postRaw(gateway.url, JSON.stringify(good))).toMatchObject({ status: 204 });
    // The one valid tag is the topic's only message.
    expect(await readAll(testKafkaBrokers(), topic)).toEqual([good]);
  });
});

describe('POST /user_tags while Kafka is down', () => {
  let broker: KafkaServer;
  let dataDir: string;
  let db: TestDatabase;
  let gateway: AppProcess;
  const topic = uniqueName('user-tags');
  const tag = (i: number): Tag => ({
    ...good,
    cookie: `outage-${i}`,
    product_info: { ...good.product_info, product_id: i },
  });

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'outage-kafka-'));
    broker = await KafkaServer.start({ dataDir });
    db = await createTestDatabase('ingest_outage');
    gateway = await AppProcess.start('gateway', uniqueName('outage-gateway'), {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: broker.brokers.join(','),
      DATABASE_URL: db.url,
      TOPIC_USER_TAGS: topic,
      KAFKA_PRODUCE_TIMEOUT_MS: '1000',
    });
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.stop();
    await broker?.stop();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 503 within the timeout, never 204 for an unwritten tag, and recovers with the broker', async () => {
    const acknowledged: Tag[] = [];
    const send = async (t: Tag) => {
      const started = Date.now();
      const res = await postRaw(gateway.url, JSON.stringify(t));
      if (res.status === 204) acknowledged.push(t);
      return { status: res.status, code: res.body?.code, ms: Date.now() - started };
    };
    expect((await send(tag(0))).status).toBe(204);

    const port = broker.port;
    await broker.stop();
    const during = [];
    for (let i = 1; i <= 5; i++) during.push(await send(tag(i)));
    for (const r of during) {
      expect(r).toMatchObject({ status: 503, code: 'KAFKA_UNAVAILABLE' });
      // The configured timeout is 1 s; generous slack for a loaded 2-core machine.
      expect(r.ms).toBeLessThan(5_000);
    }
    const ready = await fetch(`${gateway.url}/health/ready`);
    expect(ready.status).toBe(503);

    broker = await KafkaServer.start({ dataDir, port });
    const deadline = Date.now() + 90_000;
    let i = 100;
    for (;;) {
      const r = await send(tag(i++));
      if (r.status === 204) break;
      expect(r.status).toBe(503);
      if (Date.now() > deadline) throw new Error('the gateway did not recover after the broker came back');
      await new Promise((res) => setTimeout(res, 500));
    }
    // Every acknowledged tag is in the topic exactly once (a 503'd tag may or may not be: the
    // producer's own retry can still land it, which is why it was not acknowledged).
    const stored = await readAll(broker.brokers, topic);
    for (const t of acknowledged) expect(stored.filter((s) => s.cookie === t.cookie)).toHaveLength(1);
  });
});
