/**
 * The ProfileStore contract (libs/domain/src/ports/profile-store.port.ts), run against every adapter:
 * PostgreSQL (the test server), PGlite (the embedded mode's database) and Aerospike when
 * AEROSPIKE_HOSTS points at a server (skipped, by name, otherwise).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROFILE_CAPACITY, ProfileStore, TimeRange, UserTag, userTagEventTime } from '@lib/domain';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/test-env';
import { closeDataSource, createDataSource } from '../connection/data-source.factory';
import { AerospikeProfileStore } from './aerospike-profile.store';
import { HEAD_MAX_BYTES, PgProfileStore } from './pg-profile.store';
import { entriesOf } from './profile-list.codec';

// Starting PGlite (initdb in WebAssembly on a fresh directory) alone takes several seconds on 2 cores.
jest.setTimeout(120_000);

interface Opened {
  readonly store: ProfileStore;
  /** The DataSource of the PostgreSQL adapters, for checks of what is stored. */
  readonly dataSource?: DataSource;
  close(): Promise<void>;
}

interface Target {
  readonly name: string;
  readonly skipped?: string;
  open(): Promise<Opened>;
}

const aerospikeHosts = process.env.AEROSPIKE_HOSTS?.trim();

const targets: Target[] = [
  {
    name: 'PgProfileStore on PostgreSQL',
    open: async () => {
      const db = await createTestDatabase('profiles');
      const dataSource = await createDataSource({
        DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: 4,
        DATA_DIR: '/nonexistent',
      });
      return {
        store: new PgProfileStore(dataSource),
        dataSource,
        close: async () => {
          await closeDataSource(dataSource);
          await db.drop();
        },
      };
    },
  },
  {
    name: 'PgProfileStore on PGlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'profiles-pglite-'));
      const dataSource = await createDataSource({ DATABASE_POOL_SIZE: 4, DATA_DIR: dir });
      return {
        store: new PgProfileStore(dataSource),
        dataSource,
        close: async () => {
          await closeDataSource(dataSource);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'AerospikeProfileStore',
    skipped: aerospikeHosts ? undefined : 'AEROSPIKE_HOSTS not set',
    open: async () => {
      const store = await AerospikeProfileStore.connect({
        hosts: aerospikeHosts ?? '',
        namespace: process.env.AEROSPIKE_NAMESPACE?.trim() || 'test',
        set: `contract_${process.pid}_${Date.now() % 1e6}`,
      });
      return { store, close: async () => store.close() };
    },
  },
];

const T0 = Date.parse('2022-03-22T12:00:00.000Z');
const EVERYTHING: TimeRange = { fromMs: Date.parse('2000-01-01T00:00:00Z'), toMs: Date.parse('2100-01-01T00:00:00Z') };
let cookieCounter = 0;

/** A cookie no other test uses, so tests share one store without seeing each other. */
function freshCookie(label = 'c'): string {
  cookieCounter += 1;
  return `${label}-${process.pid}-${cookieCounter}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function makeTag(
  cookie: string,
  timeMs: number,
  overrides: Partial<UserTag> = {},
  productId: string | number = 1,
): UserTag {
  return {
    time: iso(timeMs),
    cookie,
    country: 'PL',
    device: 'PC',
    action: 'VIEW',
    origin: 'origin-1',
    product_info: { product_id: productId, brand_id: 'brand-1', category_id: 'category-1', price: 100 },
    ...overrides,
  };
}

/** Deterministic shuffle: appends arrive in any order. */
function shuffled<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function newestFirst(tags: readonly UserTag[]): UserTag[] {
  return [...tags].sort((a, b) => userTagEventTime(b) - userTagEventTime(a));
}

function times(tags: readonly UserTag[]): string[] {
  return tags.map((t) => t.time);
}

for (const target of targets) {
  const suite = target.skipped ? describe.skip : describe;
  suite(`ProfileStore contract: ${target.name}${target.skipped ? ` (skipped: ${target.skipped})` : ''}`, () => {
    let opened: Opened;
    let store: ProfileStore;

    beforeAll(async () => {
      opened = await target.open();
      store = opened.store;
    });

    afterAll(async () => {
      await opened?.close();
    });

    it('has an empty profile for an unknown cookie', async () => {
      expect(await store.read(freshCookie(), EVERYTHING, 200)).toEqual({ views: [], buys: [] });
    });

    it('returns each action newest first, whatever the order of appends', async () => {
      const cookie = freshCookie();
      const views = Array.from({ length: 20 }, (_, i) => makeTag(cookie, T0 + i * 1_000 + (i % 3)));
      const buys = Array.from({ length: 5 }, (_, i) => makeTag(cookie, T0 + i * 7_000, { action: 'BUY' }));
      await store.append(shuffled([...views, ...buys]).slice(0, 13));
      await store.append(shuffled([...views, ...buys]).slice(13));
      const profile = await store.read(cookie, EVERYTHING, 200);
      expect(profile.views).toEqual(newestFirst(views));
      expect(profile.buys).toEqual(newestFirst(buys));
    });

    it('filters by the range first, then applies the limit', async () => {
      const cookie = freshCookie();
      const tags = Array.from({ length: 10 }, (_, i) => makeTag(cookie, T0 + i * 1_000));
      await store.append(shuffled(tags));
      const range = { fromMs: T0 + 2_000, toMs: T0 + 6_000 };
      // Newer tags (t6..t9) lie outside the range: a store that limited first would return nothing.
      expect(times((await store.read(cookie, range, 2)).views)).toEqual([iso(T0 + 5_000), iso(T0 + 4_000)]);
      expect(times((await store.read(cookie, range, 200)).views)).toEqual([5, 4, 3, 2].map((s) => iso(T0 + s * 1_000)));
      // [from, to): a tag at `from` is in, a tag at `to` is out, to the millisecond.
      expect(times((await store.read(cookie, { fromMs: T0 + 5_999, toMs: T0 + 6_001 }, 200)).views)).toEqual([
        iso(T0 + 6_000),
      ]);
      expect(await store.read(cookie, { fromMs: T0 + 5_001, toMs: T0 + 6_000 }, 200)).toEqual({ views: [], buys: [] });
    });

    it(`keeps the newest ${PROFILE_CAPACITY} of an action and leaves the other action alone`, async () => {
      const cookie = freshCookie();
      const views = Array.from({ length: PROFILE_CAPACITY + 60 }, (_, i) =>
        makeTag(cookie, T0 + i * 10, { origin: `o${i}` }),
      );
      const buys = [makeTag(cookie, T0 - 1, { action: 'BUY' }), makeTag(cookie, T0 + 1, { action: 'BUY' })];
      const order = shuffled(views, 11);
      await store.append([...order.slice(0, 150), buys[0]]);
      await store.append(order.slice(150, 230));
      await store.append([...order.slice(230), buys[1]]);
      const profile = await store.read(cookie, EVERYTHING, PROFILE_CAPACITY);
      expect(profile.views).toEqual(newestFirst(views).slice(0, PROFILE_CAPACITY));
      expect(profile.buys).toEqual(newestFirst(buys));
      // An old tag arriving late, older than the newest 200, does not displace any of them.
      await store.append([makeTag(cookie, T0 - 5_000)]);
      expect((await store.read(cookie, EVERYTHING, PROFILE_CAPACITY)).views).toEqual(profile.views);
    });

    it('keeps two different tags of the same millisecond, in a fixed order', async () => {
      const cookie = freshCookie();
      const a = makeTag(cookie, T0, { country: 'DE' });
      const b = makeTag(cookie, T0, { country: 'FR' });
      await store.append([a]);
      await store.append([b]);
      const first = (await store.read(cookie, EVERYTHING, 200)).views;
      expect(first).toHaveLength(2);
      expect(new Set(first.map((t) => t.country))).toEqual(new Set(['DE', 'FR']));
      expect((await store.read(cookie, EVERYTHING, 200)).views).toEqual(first);
      expect((await store.read(cookie, EVERYTHING, 1)).views).toEqual(first.slice(0, 1));
    });

    it('stores the same tag once, within a batch, across batches and whatever its key order', async () => {
      const cookie = freshCookie();
      const tag = makeTag(cookie, T0);
      const { product_info: info, ...rest } = tag;
      const reversedInfo = Object.fromEntries(Object.entries(info).reverse()) as unknown as UserTag['product_info'];
      const reordered = { product_info: reversedInfo, ...rest } as UserTag;
      await store.append([tag, tag]);
      await store.append([reordered, makeTag(cookie, T0 + 1)]);
      await store.append([tag]);
      expect((await store.read(cookie, EVERYTHING, 200)).views).toEqual([makeTag(cookie, T0 + 1), tag]);
    });

    it('returns product_id as received: an integer and a string are different tags', async () => {
      const cookie = freshCookie();
      const asNumber = makeTag(cookie, T0, {}, 7);
      const asString = makeTag(cookie, T0, {}, '7');
      const big = makeTag(cookie, T0 + 1, { action: 'BUY' }, Number.MAX_SAFE_INTEGER);
      await store.append([asNumber, asString, big]);
      const profile = await store.read(cookie, EVERYTHING, 200);
      const ids = profile.views.map((t) => t.product_info.product_id);
      expect(ids).toHaveLength(2);
      expect(ids).toEqual(expect.arrayContaining([7, '7']));
      expect(profile.buys).toEqual([big]);
      expect(typeof profile.buys[0].product_info.product_id).toBe('number');
    });

    it('returns time as received, with or without milliseconds, in event-time order', async () => {
      const cookie = freshCookie();
      const whole = makeTag(cookie, T0, { time: '2022-03-22T12:00:00Z' });
      const wholeWithMillis = makeTag(cookie, T0, { time: '2022-03-22T12:00:00.000Z' });
      const later = makeTag(cookie, T0, { time: '2022-03-22T12:00:00.500Z' });
      await store.append([whole, later, wholeWithMillis]);
      const views = (await store.read(cookie, EVERYTHING, 200)).views;
      expect(views[0]).toEqual(later);
      expect(new Set(times(views.slice(1)))).toEqual(new Set(['2022-03-22T12:00:00Z', '2022-03-22T12:00:00.000Z']));
      expect(times((await store.read(cookie, { fromMs: T0, toMs: T0 + 1 }, 200)).views)).toHaveLength(2);
    });

    it('keeps cookies apart whatever their text: unicode, quotes, SQL, NUL, near-duplicates', async () => {
      const cookies = [
        "Robert'); DROP TABLE profile_tag;--",
        '1 OR 1=1',
        '%_\\%',
        'żółć 🍪 日本語',
        'e\u0301',
        'é',
        'nul\u0000byte',
        'nul',
        '\ud800lone',
        '\udc00lone',
        'case',
        'CASE',
        'case ',
        'x'.repeat(256),
      ].map((c) => `${c}${freshCookie('')}`);
      const tags = cookies.map((cookie, i) => makeTag(cookie, T0 + i, { origin: `origin-${i}` }));
      await store.append(tags);
      for (const [i, cookie] of cookies.entries()) {
        expect((await store.read(cookie, EVERYTHING, 200)).views).toEqual([tags[i]]);
      }
    });

    it('answers every cookie of a large mixed batch like a model does', async () => {
      const cookies = Array.from({ length: 40 }, () => freshCookie('bulk'));
      const tags = Array.from({ length: 1_500 }, (_, i) =>
        makeTag(cookies[(i * 7) % cookies.length], T0 + ((i * 7919) % 100_000), {
          action: i % 4 === 0 ? 'BUY' : 'VIEW',
          device: (['PC', 'MOBILE', 'TV'] as const)[i % 3],
          product_info: { product_id: i % 2 ? i : `p${i}`, brand_id: `b${i % 5}`, category_id: `k${i % 3}`, price: i },
        }),
      );
      // Concurrent appends of overlapping cookies must neither deadlock nor lose a tag.
      await Promise.all([0, 1, 2].map((part) => store.append(tags.filter((_, i) => i % 3 === part))));
      const range = { fromMs: T0 + 10_000, toMs: T0 + 90_000 };
      for (const cookie of cookies) {
        const mine = tags.filter(
          (t) => t.cookie === cookie && range.fromMs <= userTagEventTime(t) && userTagEventTime(t) < range.toMs,
        );
        const profile = await store.read(cookie, range, 20);
        expect(times(profile.views)).toEqual(times(newestFirst(mine.filter((t) => t.action === 'VIEW')).slice(0, 20)));
        expect(times(profile.buys)).toEqual(times(newestFirst(mine.filter((t) => t.action === 'BUY')).slice(0, 20)));
      }
    });

    it('loses no tag when many appends of one cookie race (compare-and-set, merged again)', async () => {
      const cookie = freshCookie('race');
      const all = Array.from({ length: 60 }, (_, i) => makeTag(cookie, T0 + i, { action: i % 2 ? 'VIEW' : 'BUY' }));
      await Promise.all(Array.from({ length: 12 }, (_, k) => store.append(all.filter((_, i) => i % 12 === k))));
      const profile = await store.read(cookie, EVERYTHING, PROFILE_CAPACITY);
      expect(times(profile.views)).toEqual(times(newestFirst(all.filter((t) => t.action === 'VIEW'))));
      expect(times(profile.buys)).toEqual(times(newestFirst(all.filter((t) => t.action === 'BUY'))));
    });

    it('answers readJson with exactly the JSON of read, for every range and limit', async () => {
      const cookie = freshCookie('json');
      const tags = Array.from({ length: 30 }, (_, i) =>
        makeTag(cookie, T0 + i * 7, { action: i % 3 ? 'VIEW' : 'BUY', origin: `o"\\${i}é🍪` }, i % 2 ? i : `${i}`),
      );
      await store.append(tags);
      for (const [from, to, limit] of [
        [0, 300, 200],
        [20, 90, 3],
        [500, 600, 10],
        [0, 300, 1],
      ]) {
        const range = { fromMs: T0 + from, toMs: T0 + to };
        const [profile, json] = await Promise.all([
          store.read(cookie, range, limit),
          store.readJson(cookie, range, limit),
        ]);
        expect(json).toEqual({ views: JSON.stringify(profile.views), buys: JSON.stringify(profile.buys) });
      }
    });

    it('keeps the newest of a popular cookie appended a few tags at a time, late tags and replays included', async () => {
      const cookie = freshCookie('hot');
      const all = Array.from({ length: PROFILE_CAPACITY + 90 }, (_, i) => makeTag(cookie, T0 + i * 10, {}, i));
      // In time order, 3 at a time, with every 7th batch a replay of an earlier batch and a late tag.
      for (let i = 0; i < all.length; i += 3) {
        await store.append(all.slice(i, i + 3));
        if ((i / 3) % 7 === 6) await store.append([...all.slice(i - 30, i - 27), all[Math.floor(i / 2)]]);
      }
      const profile = await store.read(cookie, EVERYTHING, PROFILE_CAPACITY);
      expect(times(profile.views)).toEqual(times(newestFirst(all).slice(0, PROFILE_CAPACITY)));
      const range = { fromMs: T0 + 1_000, toMs: T0 + 2_000 };
      const inRange = newestFirst(all).filter(
        (t) => userTagEventTime(t) >= range.fromMs && userTagEventTime(t) < range.toMs,
      );
      expect(times((await store.read(cookie, range, 7)).views)).toEqual(times(inRange.slice(0, 7)));
    });

    if (target.name.startsWith('PgProfileStore')) {
      it(`bounds storage: a body holds at most ${PROFILE_CAPACITY} tags and a head stays small`, async () => {
        const cookie = freshCookie();
        const views = Array.from({ length: PROFILE_CAPACITY + 25 }, (_, i) => makeTag(cookie, T0 + i));
        await store.append(views.slice(0, 120));
        for (let i = 120; i < views.length; i += 5) await store.append(views.slice(i, i + 5));
        const rows = await opened.dataSource!.query<{ head: string; body: string | null }[]>(
          'SELECT head, body FROM profile_list WHERE cookie = $1',
          [cookie],
        );
        expect(rows).toHaveLength(1);
        expect(entriesOf(rows[0].body ?? undefined).length).toBe(PROFILE_CAPACITY);
        expect(rows[0].head.length).toBeLessThanOrEqual(HEAD_MAX_BYTES);
        const [{ n }] = await opened.dataSource!.query<{ n: string }[]>(
          'SELECT count(*) AS n FROM profile_entry WHERE cookie = $1',
          [cookie],
        );
        expect(Number(n)).toBe(PROFILE_CAPACITY);
      });

      it('profile retention: deletes the lists not written since the cutoff, and only those', async () => {
        const [idle, active, mixed] = [freshCookie(), freshCookie(), freshCookie()];
        await store.append([
          makeTag(idle, T0),
          makeTag(active, T0 + 1),
          makeTag(mixed, T0 + 2),
          { ...makeTag(mixed, T0 + 3), action: 'BUY' },
        ]);
        // Back-date what "not written for a while" looks like: the idle cookie, and the mixed one's views.
        await opened.dataSource!.query(
          `UPDATE profile_list SET written_at = now() - interval '10 days'
           WHERE cookie = $1 OR (cookie = $2 AND action = 'VIEW')`,
          [idle, mixed],
        );
        // A write since the back-dating counts as a write: the active cookie is appended to again.
        await opened.dataSource!.query(
          `UPDATE profile_list SET written_at = now() - interval '10 days' WHERE cookie = $1`,
          [active],
        );
        await store.append([makeTag(active, T0 + 5)]);

        const deleted = await store.deleteIdle(Date.now() - 5 * 86_400_000);

        expect(deleted).toBe(2);
        const all = { fromMs: T0 - 60_000, toMs: T0 + 60_000 };
        expect(await store.read(idle, all, 200)).toEqual({ views: [], buys: [] });
        expect((await store.read(active, all, 200)).views).toHaveLength(2);
        const m = await store.read(mixed, all, 200);
        expect([m.views.length, m.buys.length]).toEqual([0, 1]);
        expect(await store.deleteIdle(Date.now() - 5 * 86_400_000)).toBe(0);
      });
    }
  });
}
