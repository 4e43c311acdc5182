import { AppProcess } from '../support/app.process';
import { createTestDatabase, testKafkaBrokers, TestDatabase, uniqueName } from '../support/test-env';
import { CAPACITY, Tag, TagModel, inParallel, prng, sameProfileList } from './tag-model';

/**
 * Issue 4 end to end: gateway and pipeline as real processes on the real broker and PostgreSQL;
 * thousands of tags in, profiles out, every answer checked against an independent model.
 */
describe('user tags in, profiles out (real Kafka, PostgreSQL, gateway and pipeline processes)', () => {
  let db: TestDatabase;
  let gateway: AppProcess;
  let pipeline: AppProcess;
  const model = new TagModel();
  const random = prng(4242);
  const T0 = Date.parse('2022-03-22T12:00:00.000Z');

  const iso = (ms: number, withMillis = true): string => {
    const s = new Date(ms).toISOString();
    return withMillis ? s : s.replace(/\.\d{3}Z$/, 'Z');
  };
  const noZone = (ms: number): string => new Date(ms).toISOString().replace(/Z$/, '');
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

  function tag(cookie: string, ms: number, over: Partial<Tag> = {}, withMillis = true): Tag {
    return {
      time: iso(ms, withMillis),
      cookie,
      country: pick(['PL', 'DE', 'US', 'JP']),
      device: pick(['PC', 'MOBILE', 'TV'] as const),
      action: pick(['VIEW', 'BUY'] as const),
      origin: `origin-${Math.floor(random() * 20)}`,
      product_info: {
        product_id: random() < 0.5 ? Math.floor(random() * 1e6) : `sku-${Math.floor(random() * 1e6)}`,
        brand_id: `brand-${Math.floor(random() * 10)}`,
        category_id: `cat-${Math.floor(random() * 5)}`,
        price: Math.floor(random() * 100_000),
      },
      ...over,
    };
  }

  async function post(t: Tag): Promise<void> {
    const res = await fetch(`${gateway.url}/user_tags`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(t),
    });
    if (res.status !== 204)
      throw new Error(`POST /user_tags: ${res.status} ${await res.text()} for ${JSON.stringify(t)}`);
  }

  async function profile(cookie: string, from: number, to: number, limit?: number, expected?: unknown) {
    const q = `time_range=${noZone(from)}_${noZone(to)}${limit === undefined ? '' : `&limit=${limit}`}`;
    const res = await fetch(`${gateway.url}/user_profiles/${encodeURIComponent(cookie)}?${q}`, {
      method: 'POST',
      ...(expected === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(expected) }),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as { cookie: string; views: Tag[]; buys: Tag[] };
  }

  beforeAll(async () => {
    db = await createTestDatabase('profiles_e2e');
    const env = {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      DATABASE_URL: db.url,
      TOPIC_USER_TAGS: uniqueName('user-tags'),
      AGGREGATES_GROUP_ID: uniqueName('aggregates'),
      KAFKA_TOPIC_PARTITIONS: '4',
      DEBUG_COMPARE: 'true',
    };
    // The pipeline first: it creates the topic and the schema; then the gateway.
    pipeline = await AppProcess.start('pipeline', uniqueName('profiles-e2e-pipeline'), env);
    await pipeline.ready();
    gateway = await AppProcess.start('gateway', uniqueName('profiles-e2e-gateway'), env);
    await gateway.ready();
  });

  afterAll(async () => {
    await gateway?.stop();
    await pipeline?.stop();
    await db?.drop();
  });

  it('answers every profile query exactly like the model', async () => {
    const tags: Tag[] = [];
    // Ordinary cookies: random histories over two hours, some times without milliseconds.
    for (let c = 0; c < 40; c++) {
      const n = 20 + Math.floor(random() * 60);
      for (let i = 0; i < n; i++) {
        const ms = T0 + Math.floor(random() * 7_200_000);
        tags.push(tag(`cookie-${c}`, random() < 0.1 ? ms - (ms % 1000) : ms, {}, random() >= 0.1));
      }
    }
    // More than 200 tags of one action: only the 200 newest are kept.
    for (let i = 0; i < 320; i++) tags.push(tag('heavy', T0 + i * 1_000 + 7, { action: 'BUY' }));
    for (let i = 0; i < 230; i++) tags.push(tag('heavy', T0 + i * 1_500 + 3, { action: 'VIEW' }));
    // A limit smaller than the matches, with newer tags outside the range.
    for (let i = 0; i < 50; i++) tags.push(tag('limited', T0 + i * 1_000, { action: 'VIEW' }));
    for (let i = 0; i < 30; i++) tags.push(tag('limited', T0 + 3_600_000 + i * 1_000, { action: 'VIEW' }));
    // Two different tags in the same millisecond: both kept.
    const sameMs = T0 + 123_456;
    tags.push(
      tag('twins', sameMs, {
        action: 'BUY',
        product_info: { product_id: 1, brand_id: 'b', category_id: 'c', price: 10 },
      }),
    );
    tags.push(
      tag('twins', sameMs, {
        action: 'BUY',
        product_info: { product_id: '1', brand_id: 'b', category_id: 'c', price: 10 },
      }),
    );
    // Odd characters in a cookie and SQL-looking text in every field.
    tags.push(tag("żółć 🍪 ' OR 1=1 --/?%", T0 + 42, { origin: "'; DROP TABLE profiles; --" }));

    // Arrival order differs from event order, as in production.
    const shuffled = [...tags].sort(() => random() - 0.5);
    await inParallel(shuffled, 32, post);
    for (const t of tags) model.add(t);
    // The same tag delivered twice is stored once.
    const again = tags.filter((t) => t.cookie === 'twins');
    await inParallel(again, 2, post);

    // Converged: every cookie's full history matches (the data latency is measured in bench/, not here).
    const everything = (c: string) => profile(c, T0 - 1, T0 + 86_400_000, CAPACITY);
    const deadline = Date.now() + 60_000;
    for (const cookie of model.cookies()) {
      for (;;) {
        const got = await everything(cookie);
        const want = model.profile(cookie, noZone(T0 - 1), noZone(T0 + 86_400_000), CAPACITY);
        if (sameProfileList(got.views, want.views) && sameProfileList(got.buys, want.buys)) break;
        if (Date.now() > deadline) {
          expect({ cookie, views: got.views.length, buys: got.buys.length }).toEqual({
            cookie,
            views: want.views.length,
            buys: want.buys.length,
          });
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }

    // The specific cases.
    const heavy = await profile('heavy', T0 - 1, T0 + 86_400_000);
    expect(heavy.buys).toHaveLength(200);
    expect(heavy.buys[0]!.time).toBe(iso(T0 + 319 * 1_000 + 7));
    expect(heavy.buys[199]!.time).toBe(iso(T0 + 120 * 1_000 + 7));
    expect(heavy.views).toHaveLength(200);

    const limited = await profile('limited', T0, T0 + 50_000, 10);
    expect(limited.views.map((t) => t.time)).toEqual(Array.from({ length: 10 }, (_, i) => iso(T0 + (49 - i) * 1_000)));

    const twins = await profile('twins', T0, T0 + 200_000);
    expect(twins.buys).toHaveLength(2);
    expect(twins.buys.map((t) => typeof t.product_info.product_id).sort()).toEqual(['number', 'string']);

    const withoutMillis = tags.find((t) => !t.time.includes('.'))!;
    const found = await profile(withoutMillis.cookie, T0 - 1, T0 + 86_400_000);
    expect([...found.views, ...found.buys].map((t) => t.time)).toContain(withoutMillis.time);

    // Hundreds of random queries, each carrying the model's answer for the debug comparison.
    let compared = 0;
    const mismatches: string[] = [];
    for (let q = 0; q < 600; q++) {
      const cookie = pick(model.cookies());
      let a = T0 - 60_000 + Math.floor(random() * 7_400_000);
      let b = a + 1 + Math.floor(random() * 3_600_000);
      if (q % 2 === 0) {
        // Bounds on tags' own times: `from` must include its tag, `to` must exclude its tag.
        const times = [...model.kept(cookie, 'VIEW'), ...model.kept(cookie, 'BUY')].map((t) => Date.parse(t.time));
        const x = pick(times);
        const y = pick(times);
        if (x !== y) [a, b] = [Math.min(x, y), Math.max(x, y)];
      }
      const limit = random() < 0.3 ? undefined : 1 + Math.floor(random() * CAPACITY);
      const want = model.profile(cookie, noZone(a), noZone(b), limit ?? CAPACITY);
      // Ties in time have no specified order, so only tie-free answers go to the exact debug comparison.
      const tieFree = cookie !== 'twins';
      const got = await profile(cookie, a, b, limit, tieFree ? want : undefined);
      compared += tieFree ? 1 : 0;
      if (!sameProfileList(got.views, want.views) || !sameProfileList(got.buys, want.buys) || got.cookie !== cookie) {
        mismatches.push(
          `${cookie} ${noZone(a)}_${noZone(b)} limit=${limit}: got ${got.views.length}/${got.buys.length}, want ${want.views.length}/${want.buys.length}`,
        );
      }
    }
    expect(mismatches).toEqual([]);
    expect(await gateway.metric('debug_comparisons_total', { endpoint: 'user_profiles', result: 'mismatch' })).toBe(0);
    expect(await gateway.metric('debug_comparisons_total', { endpoint: 'user_profiles', result: 'match' })).toBe(
      compared,
    );
  });
});
