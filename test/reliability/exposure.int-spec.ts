/**
 * Reliability suite 6, exposure: what a hostile client can make the real gateway do, with the pipeline
 * behind it (UserTagsStack on the shared Kafka, a fresh database).
 * - Debug comparison is off by default: a query carrying an expected answer (right, wrong, or not even
 *   JSON) is answered as any other, nothing is compared (debug_comparisons_total does not move, nothing
 *   logged), and the body is bounded by BODY_LIMIT_BYTES (413 past it). README.md and .env.example say so.
 * - With DEBUG_COMPARE=true a query body is bounded by DEBUG_BODY_LIMIT_BYTES (413 past it), and a tag
 *   still by BODY_LIMIT_BYTES although the parser then reads larger bodies.
 * - Injection: tags whose cookie, country, origin, brand_id, category_id (and product_id) are SQL
 *   injection strings and odd text (quotes, `'; DROP TABLE minute_cube; --`, backslashes, `$1`, LIKE
 *   wildcards, array-literal syntax, unicode in two normal forms, control characters, NUL) go through
 *   POST /user_tags; then every one is a filter of /aggregates (alone and all three together, both
 *   actions) and a cookie of /user_profiles, on both gateways (the debug one with the expected answer
 *   as the body, which must match). Every answer must equal the one computed here from the tags sent,
 *   the tables must still exist, and the rows of ordinary tags sent before must answer as before.
 * The static side (no SQL text built from input in libs/persistence) is test/reliability/sql-text.spec.ts.
 *
 * CI: `npx jest test/reliability/exposure.int-spec.ts --selectProjects integration` (the fixed strings
 * and 20 seeded random ones). Larger: `npm run reliability:exposure` (200 random strings);
 * RELIABILITY_EXPOSURE_RANDOM_STRINGS, RELIABILITY_SEED.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Rng } from '../../bench/loadgen/prng';
import { AppProcess } from '../support/app.process';
import { createTestDatabase, TestDatabase, testKafkaBrokers, uniqueName } from '../support/test-env';
import { Tag } from '../user-tags/tag-model';
import { Figures } from './support/figures';
import { sendRaw } from './support/raw-http';
import { FULL, seed, size } from './support/sizes';
import { sql, UserTagsStack } from './support/user-tags-stack';

const RANDOM_STRINGS = size('EXPOSURE_RANDOM_STRINGS', 20, 200);
const SEED = seed(6);
const BODY_LIMIT_BYTES = 16_384;
const DEBUG_BODY_LIMIT_BYTES = 65_536;
const ROOT = join(__dirname, '..', '..');

jest.setTimeout(240_000 + RANDOM_STRINGS * 1_000);

/** Hand-picked hostile and odd texts; each is a valid tag field (1 to 256 characters). */
const FIXED_STRINGS = [
  `'; DROP TABLE minute_cube; --`,
  `'; DROP TABLE profile_tag; --`,
  `Robert'); DELETE FROM consumer_offset; --`,
  `' OR '1'='1`,
  `" OR ""="`,
  `' UNION SELECT cookie, tag FROM profile_tag --`,
  `1; SELECT pg_sleep(5)`,
  `'`,
  `''`,
  `"`,
  `\\`,
  `\\'`,
  `C:\\path\\to\\x`,
  `\\x00\\n`,
  `$1`,
  `$2 $1 $$`,
  `$tag$ x $tag$`,
  `%`,
  `_`,
  `%Nike%`,
  `N_ke`,
  `Nik%`,
  `[a-z]*`,
  `{a,b}`,
  `{"}`,
  `a","b`,
  `,`,
  `NULL`,
  `null`,
  ` `,
  ` padded `,
  `tab\tnew\nline\rcr`,
  `Zażółć gęślą jaźń`,
  `漢字かな`,
  `😀🚀 emoji`,
  `مرحبا`,
  `e\u0301`, // e + combining acute
  `\u00e9`, // é precomposed: a different string that looks the same
  `\u0001starts with U+0001`,
  `NUL\u0000inside`,
  `\u202e RTL override`,
  `'`.repeat(256),
  `\\`.repeat(256),
];

/** Seeded random strings from an alphabet of the characters that break naive quoting. */
function randomStrings(n: number): string[] {
  const rng = new Rng(SEED, 'exposure-strings');
  const alphabet = [
    `'`,
    `"`,
    `\\`,
    `%`,
    `_`,
    `$`,
    `;`,
    `-`,
    `{`,
    `}`,
    `,`,
    ` `,
    `\n`,
    `(`,
    `)`,
    `*`,
    `/`,
    `é`,
    `漢`,
    `😀`,
  ];
  const words = ['a', 'NULL', 'OR', 'DROP TABLE minute_cube', '1=1', '$1', '--', '/*', '*/'];
  return Array.from({ length: n }, (_, i) => {
    const parts: string[] = [`r${i}`];
    const len = 1 + rng.int(30);
    for (let j = 0; j < len; j++) parts.push(rng.chance(0.2) ? rng.pick(words) : rng.pick(alphabet));
    return parts.join('').slice(0, 256);
  });
}

/** Profile rows the store keeps of `tags`: the newest 200 of each cookie and action (plain-cookie gets one VIEW per string). */
function keptRows(tags: readonly Tag[]): number {
  const per = new Map<string, number>();
  for (const t of tags) per.set(`${t.cookie}\u0000${t.action}`, (per.get(`${t.cookie}\u0000${t.action}`) ?? 0) + 1);
  return [...per.values()].reduce((sum, n) => sum + Math.min(200, n), 0);
}

type Filters = Partial<Record<'origin' | 'brand_id' | 'category_id', string>>;

const BASE_MS = Date.parse('2022-03-01T10:00:00.000Z');
const RANGE = { from: BASE_MS, to: BASE_MS + 10 * 60_000 };
const AGG_RANGE = '2022-03-01T10:00:00_2022-03-01T10:10:00';
const PROFILE_RANGE = '2022-03-01T10:00:00.000_2022-03-01T10:10:00.000';

/** Distinct times within the 10 minutes, so profile order is unambiguous. */
let tick = 0;
const nextTime = (): string => new Date(BASE_MS + 1 + tick++ * 97).toISOString();

function tag(cookie: string, action: Tag['action'], dims: Required<Filters>, price: number, extra = ''): Tag {
  return {
    time: nextTime(),
    cookie,
    country: extra === '' ? 'PL' : extra,
    device: 'PC',
    action,
    origin: dims.origin,
    product_info: {
      product_id: extra === '' ? price : extra,
      brand_id: dims.brand_id,
      category_id: dims.category_id,
      price,
    },
  };
}

function expectedAggregates(tags: readonly Tag[], action: Tag['action'], filters: Filters) {
  const keys = (['origin', 'brand_id', 'category_id'] as const).filter((k) => filters[k] !== undefined);
  const rows: string[][] = [];
  for (let b = RANGE.from; b < RANGE.to; b += 60_000) {
    const hit = tags.filter((t) => {
      const ms = Date.parse(t.time);
      return (
        t.action === action &&
        ms >= b &&
        ms < b + 60_000 &&
        (filters.origin === undefined || t.origin === filters.origin) &&
        (filters.brand_id === undefined || t.product_info.brand_id === filters.brand_id) &&
        (filters.category_id === undefined || t.product_info.category_id === filters.category_id)
      );
    });
    rows.push([
      new Date(b).toISOString().slice(0, 19),
      action,
      ...keys.map((k) => filters[k]!),
      String(hit.length),
      String(hit.reduce((s, t) => s + t.product_info.price, 0)),
    ]);
  }
  return { columns: ['1m_bucket', 'action', ...keys, 'count', 'sum_price'], rows };
}

function expectedProfile(tags: readonly Tag[], cookie: string) {
  const mine = tags.filter((t) => t.cookie === cookie).sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  return {
    cookie,
    views: mine.filter((t) => t.action === 'VIEW').slice(0, 200),
    buys: mine.filter((t) => t.action === 'BUY').slice(0, 200),
  };
}

function aggregatesPath(action: Tag['action'], filters: Filters): string {
  const q = new URLSearchParams({ time_range: AGG_RANGE, action });
  for (const [k, v] of Object.entries(filters)) q.append(k, v);
  q.append('aggregates', 'COUNT');
  q.append('aggregates', 'SUM_PRICE');
  return `/aggregates?${q.toString()}`;
}

const profilePath = (cookie: string) =>
  `/user_profiles/${encodeURIComponent(cookie)}?${new URLSearchParams({ time_range: PROFILE_RANGE }).toString()}`;

async function post(
  base: string,
  path: string,
  body?: unknown,
  raw?: string,
): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

describe('exposure: debug comparison off by default and bounded; no SQL built from input', () => {
  const figures = new Figures(
    'exposure',
    `${FULL ? 'npm run reliability:exposure' : 'npx jest test/reliability/exposure.int-spec.ts --selectProjects integration'}: ` +
      `${FIXED_STRINGS.length} fixed and ${RANDOM_STRINGS} random hostile strings (seed ${SEED}), ` +
      `BODY_LIMIT_BYTES=${BODY_LIMIT_BYTES}, DEBUG_BODY_LIMIT_BYTES=${DEBUG_BODY_LIMIT_BYTES} on the debug gateway`,
  );
  let db: TestDatabase;
  let stack: UserTagsStack;
  /** A second gateway on the same topic and database, DEBUG_COMPARE=true. */
  let debug: AppProcess;
  const outcomes: boolean[] = [];

  const baseline: Tag[] = [];
  for (let i = 0; i < 6; i++) {
    baseline.push(
      tag('alice', i % 2 === 0 ? 'VIEW' : 'BUY', { origin: 'US', brand_id: 'Nike', category_id: 'shoes' }, 100 + i),
    );
  }
  /** Queries of the ordinary tags that none of the hostile ones matches: their answers must not change. */
  const baselinePaths = [
    aggregatesPath('VIEW', { origin: 'US', brand_id: 'Nike', category_id: 'shoes' }),
    aggregatesPath('BUY', { origin: 'US', brand_id: 'Nike', category_id: 'shoes' }),
    aggregatesPath('BUY', { origin: 'US', brand_id: 'Nike' }),
    profilePath('alice'),
  ];
  const baselineAnswers: unknown[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('exposure');
    stack = await UserTagsStack.start({
      label: 'exposure',
      brokers: testKafkaBrokers().join(','),
      databaseUrl: db.url,
      env: { LOG_LEVEL: 'warn' },
      gatewayEnv: { BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES) },
    });
    debug = await AppProcess.start('gateway', uniqueName('exposure-debug-gateway'), {
      ...stack.env,
      BODY_LIMIT_BYTES: String(BODY_LIMIT_BYTES),
      DEBUG_COMPARE: 'true',
      DEBUG_BODY_LIMIT_BYTES: String(DEBUG_BODY_LIMIT_BYTES),
    });
    await debug.ready(90_000);
    for (const t of baseline) expect((await post(stack.gateway.url, '/user_tags', t)).status).toBe(204);
    await stack.converged(60_000);
    for (const path of baselinePaths) baselineAnswers.push((await post(stack.gateway.url, path)).json);
    expect(baselineAnswers).toEqual([
      expectedAggregates(baseline, 'VIEW', { origin: 'US', brand_id: 'Nike', category_id: 'shoes' }),
      expectedAggregates(baseline, 'BUY', { origin: 'US', brand_id: 'Nike', category_id: 'shoes' }),
      expectedAggregates(baseline, 'BUY', { origin: 'US', brand_id: 'Nike' }),
      expectedProfile(baseline, 'alice'),
    ]);
  });

  afterAll(async () => {
    figures.report(outcomes.length === 3 && outcomes.every(Boolean) ? 'passed' : 'failed');
    await debug?.stop();
    await stack?.stop();
    await db?.drop();
  });

  it('compares nothing by default: a query body is ignored (not parsed) and bounded by BODY_LIMIT_BYTES', async () => {
    outcomes[0] = false;
    const gw = stack.gateway.url;
    const path = aggregatesPath('VIEW', { brand_id: 'Nike' });
    const right = expectedAggregates(baseline, 'VIEW', { brand_id: 'Nike' });
    const wrong = { ...right, rows: right.rows.map((r) => [...r.slice(0, -2), '999', '999']) };
    const answers = [
      await post(gw, path, right),
      await post(gw, path, wrong),
      await post(gw, path, undefined, '{"not json'),
      await post(gw, profilePath('alice'), { cookie: 'alice', views: [], buys: [] }),
    ];
    const pad = (n: number) => JSON.stringify({ ...right, pad: 'x'.repeat(n) });
    const url = new URL(gw);
    const overLimit = await sendRaw(url.hostname, Number(url.port), {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(pad(BODY_LIMIT_BYTES + 100)),
    });
    const underLimit = await post(gw, path, undefined, pad(BODY_LIMIT_BYTES - 1_000));
    const comparisons = await stack.gateway.metric('debug_comparisons_total');
    const logged = /mismatch on/.test(readFileSync(stack.gateway.logFile, 'utf8'));
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const envExample = readFileSync(join(ROOT, '.env.example'), 'utf8');

    figures.add(
      'default gateway: query with right / wrong / non-JSON expected body',
      answers
        .slice(0, 3)
        .map((a) => a.status)
        .join(' / '),
    );
    figures.add(
      'default gateway: query body over / under BODY_LIMIT_BYTES',
      `${overLimit.status} / ${underLimit.status}`,
    );
    figures.add('default gateway: debug_comparisons_total, mismatch logged', `${comparisons}, ${logged}`);

    for (const a of answers.slice(0, 3)) expect([a.status, a.json]).toEqual([200, right]);
    expect([answers[3].status, answers[3].json]).toEqual([200, expectedProfile(baseline, 'alice')]);
    expect(overLimit.status).toBe(413);
    expect(JSON.parse(overLimit.body)).toEqual(expect.objectContaining({ statusCode: 413 }));
    expect([underLimit.status, underLimit.json]).toEqual([200, right]);
    expect(comparisons).toBe(0);
    expect(logged).toBe(false);
    // Documented: off by default, and what the body is then.
    expect(readme).toContain('(`DEBUG_COMPARE=true`, off by default)');
    expect(readme).toContain('With the mode off the body is not parsed.');
    expect(readme).toContain('A query body over `BODY_LIMIT_BYTES` (in debug mode `DEBUG_BODY_LIMIT_BYTES`');
    expect(envExample).toMatch(/^# DEBUG_COMPARE=false$/m);
    expect(envExample).toMatch(/^# DEBUG_BODY_LIMIT_BYTES=\d+$/m);
    outcomes[0] = true;
  });

  it('with DEBUG_COMPARE=true bounds a query body by DEBUG_BODY_LIMIT_BYTES and a tag by BODY_LIMIT_BYTES', async () => {
    outcomes[1] = false;
    const url = new URL(debug.url);
    const path = aggregatesPath('BUY', {});
    const right = expectedAggregates(baseline, 'BUY', {});
    const padded = (n: number) => Buffer.from(JSON.stringify({ ...right, pad: 'x'.repeat(n) }));
    const raw = (p: string, body: Buffer) =>
      sendRaw(url.hostname, Number(url.port), {
        method: 'POST',
        path: p,
        headers: { 'content-type': 'application/json' },
        body,
      });
    const before = {
      match: await debug.metric('debug_comparisons_total', { result: 'match' }),
      mismatch: await debug.metric('debug_comparisons_total', { result: 'mismatch' }),
    };
    const overDebug = await raw(path, padded(DEBUG_BODY_LIMIT_BYTES + 100));
    const wayOver = await raw(path, padded(8 * DEBUG_BODY_LIMIT_BYTES));
    // Over the tag limit, under the debug limit: still a query the gateway reads and compares.
    const underDebug = await raw(path, padded(DEBUG_BODY_LIMIT_BYTES - 2_000));
    const wrong = await post(debug.url, path, { ...right, rows: [] });
    const bigTag = await raw(
      '/user_tags',
      Buffer.from(JSON.stringify({ ...baseline[0], country: 'x'.repeat(BODY_LIMIT_BYTES + 100) })),
    );
    const after = {
      match: await debug.metric('debug_comparisons_total', { result: 'match' }),
      mismatch: await debug.metric('debug_comparisons_total', { result: 'mismatch' }),
    };

    figures.add(
      'debug gateway: query body over DEBUG_BODY_LIMIT_BYTES / 8× over / under it',
      `${overDebug.status} / ${wayOver.status} / ${underDebug.status}`,
    );
    figures.add('debug gateway: tag over BODY_LIMIT_BYTES', bigTag.status);
    figures.add(
      'debug gateway: comparisons match / mismatch (these 2 queries)',
      `${after.match - before.match} / ${after.mismatch - before.mismatch}`,
    );

    expect(overDebug.status).toBe(413);
    expect(wayOver.status).toBe(413);
    expect([underDebug.status, JSON.parse(underDebug.body)]).toEqual([200, right]);
    expect([wrong.status, wrong.json]).toEqual([200, right]);
    expect(bigTag.status).toBe(413);
    // The padded body has an extra field (a mismatch); the empty rows too.
    expect(after.mismatch - before.mismatch).toBe(2);
    expect(debug.running).toBe(true);
    outcomes[1] = true;
  });

  it('stores and answers injection strings and odd text exactly, through every filter and as cookies', async () => {
    outcomes[2] = false;
    const strings = [...new Set([...FIXED_STRINGS, ...randomStrings(RANDOM_STRINGS)])];
    const tags: Tag[] = [];
    strings.forEach((s, i) => {
      const price = 1_000 + i;
      tags.push(tag(s, 'VIEW', { origin: s, brand_id: s, category_id: s }, price, s));
      tags.push(tag(s, 'BUY', { origin: s, brand_id: 'plain-brand', category_id: s }, price + 100_000));
      tags.push(tag('plain-cookie', 'VIEW', { origin: 'US', brand_id: s, category_id: 'shoes' }, price + 200_000));
      tags.push(tag(`${i}-other`, 'BUY', { origin: s, brand_id: 'Nike', category_id: 'shoes' }, price + 300_000, s));
    });
    const rejected: string[] = [];
    for (const t of tags) {
      const r = await post(stack.gateway.url, '/user_tags', t);
      if (r.status !== 204) rejected.push(`${r.status} ${JSON.stringify(t.cookie)}: ${r.text.slice(0, 200)}`);
    }
    expect(rejected).toEqual([]);
    // Within every length limit, but too large for a profile record (6 bytes per control character in
    // JSON): refused with a code, and not written (the counts of the tables below hold exactly `all`).
    const control = '\u0001'.repeat(256);
    const oversized = await post(
      stack.gateway.url,
      '/user_tags',
      tag(control, 'VIEW', { origin: control, brand_id: control, category_id: control }, 1, control),
    );
    expect([oversized.status, (oversized.json as { code?: string }).code]).toEqual([400, 'TAG_TOO_LARGE']);
    await stack.converged(120_000);
    const all = [...baseline, ...tags];

    // Every string as each filter and all three, both actions, on both gateways (the debug one checks
    // the expected answer it is sent); every cookie's profile.
    const wrong: string[] = [];
    let asked = 0;
    const debugBefore = await debug.metric('debug_comparisons_total', { result: 'match' });
    const check = async (path: string, expected: unknown) => {
      for (const [base, body] of [
        [stack.gateway.url, undefined],
        [debug.url, expected],
      ] as const) {
        asked += 1;
        const r = await post(base, path, body);
        if (r.status !== 200 || !isDeepStrictEqual(r.json, expected)) {
          wrong.push(`${base === debug.url ? 'debug ' : ''}${path}: ${r.status} ${r.text.slice(0, 300)}`);
        }
      }
    };
    for (const s of strings) {
      for (const action of ['VIEW', 'BUY'] as const) {
        for (const filters of [
          { origin: s },
          { brand_id: s },
          { category_id: s },
          { origin: s, brand_id: s, category_id: s },
        ] as Filters[]) {
          await check(aggregatesPath(action, filters), expectedAggregates(all, action, filters));
        }
      }
      await check(profilePath(s), expectedProfile(all, s));
    }
    await check(profilePath('plain-cookie'), expectedProfile(all, 'plain-cookie'));
    const debugMatched = (await debug.metric('debug_comparisons_total', { result: 'match' })) - debugBefore;

    // The ordinary rows answer as before, the tables are there and hold what was sent, no more.
    const baselineWrong: string[] = [];
    for (const [i, path] of baselinePaths.entries()) {
      if (!isDeepStrictEqual((await post(stack.gateway.url, path)).json, baselineAnswers[i])) baselineWrong.push(path);
    }
    // And the unfiltered totals hold the ordinary tags and the hostile ones.
    for (const action of ['VIEW', 'BUY'] as const) {
      const r = await post(stack.gateway.url, aggregatesPath(action, {}));
      if (!isDeepStrictEqual(r.json, expectedAggregates(all, action, {}))) wrong.push(aggregatesPath(action, {}));
    }
    const [tables] = await sql<{ cube: string | null; profile: string | null; offsets: string | null }>(
      db.url,
      `SELECT to_regclass('minute_cube')::text AS cube, to_regclass('profile_list')::text AS profile,
              to_regclass('consumer_offset')::text AS offsets`,
    );
    const [rows] = await sql<{ profiles: string; counted: string; offsets: string }>(
      db.url,
      `SELECT (SELECT count(*) FROM profile_entry) AS profiles,
              (SELECT coalesce(sum(count), 0) FROM minute_cube WHERE dims = 0) AS counted,
              (SELECT count(*) FROM consumer_offset) AS offsets`,
    );
    const ready = await Promise.all(
      [stack.gateway.url, debug.url].map((u) => fetch(`${u}/health/ready`).then((r) => r.status)),
    );

    figures.add('hostile strings (fixed + random)', `${strings.length} (${FIXED_STRINGS.length} + ${RANDOM_STRINGS})`);
    figures.add('tags sent / rejected', `${tags.length} / ${rejected.length}`);
    figures.add('queries asked (both gateways)', asked);
    figures.add('answers not exactly right', wrong.length);
    figures.add('debug gateway: expected answers matched', debugMatched);
    figures.add('ordinary rows answering differently afterwards (of 4 queries)', baselineWrong.length);
    figures.add(
      'tables minute_cube, profile_list, consumer_offset',
      [tables.cube, tables.profile, tables.offsets].join(', '),
    );
    figures.add(
      'profile rows / newest 200 per cookie and action of the tags sent',
      `${rows.profiles} / ${keptRows(all)}`,
    );
    figures.add('tags counted in the cube (unfiltered) / sent', `${rows.counted} / ${all.length}`);
    figures.add('consumer_offset rows', rows.offsets);

    expect(wrong.slice(0, 10)).toEqual([]);
    expect(debugMatched).toBe(asked / 2);
    expect(baselineWrong).toEqual([]);
    expect(tables).toEqual({ cube: 'minute_cube', profile: 'profile_list', offsets: 'consumer_offset' });
    expect(Number(rows.profiles)).toBe(keptRows(all));
    expect(Number(rows.counted)).toBe(all.length);
    expect(Number(rows.offsets)).toBeGreaterThan(0);
    expect(ready).toEqual([200, 200]);
    outcomes[2] = true;
  });
});
