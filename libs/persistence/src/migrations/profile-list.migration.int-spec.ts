/**
 * The move from one row per tag (profile_tag) to one row per list (profile_list) keeps what a reader
 * saw: the newest PROFILE_CAPACITY tags per list, tags byte for byte, ties in the same order; a tag
 * replayed after the move is still recognised as stored; and `down` gives the per-tag table back.
 */
import { canonicalTagJson, PROFILE_CAPACITY, UserTag, userTagEventTime } from '@lib/domain';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/test-env';
import { closeDataSource, createDataSource } from '../connection/data-source.factory';
import { PgProfileStore } from '../profiles/pg-profile.store';
import { tagDigestHex } from '../profiles/tag-identity';
import { MIGRATIONS } from '.';

jest.setTimeout(60_000);

const T0 = Date.parse('2022-03-22T12:00:00.000Z');
const EVERYTHING = { fromMs: Date.parse('2000-01-01T00:00:00Z'), toMs: Date.parse('2100-01-01T00:00:00Z') };

function tag(cookie: string, action: 'VIEW' | 'BUY', timeMs: number, productId: string | number): UserTag {
  return {
    time: new Date(timeMs).toISOString(),
    cookie,
    country: 'PL',
    device: 'PC',
    action,
    origin: 'o',
    product_info: { product_id: productId, brand_id: 'b', category_id: 'c', price: 10 },
  };
}

describe('migration ProfileList1764000000003', () => {
  it('moves the newest tags of each list over, exactly as a reader saw them, and back with down', async () => {
    const db = await createTestDatabase('profile-migration');
    const before = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS.slice(0, 3) });
    await before.initialize();
    await before.runMigrations();
    // 230 views of which pairs share a millisecond (ties), 3 buys, a second cookie with odd text.
    const tags = [
      ...Array.from({ length: 230 }, (_, i) => tag('alice', 'VIEW', T0 + Math.floor(i / 2), i % 3 ? i : String(i))),
      ...[0, 1, 2].map((i) => tag('alice', 'BUY', T0 + i, i)),
      tag('żółć "🍪"', 'BUY', T0, 'x'),
    ];
    for (const t of tags) {
      const json = canonicalTagJson(t);
      await before.query(
        "INSERT INTO profile_tag (cookie, action, time_ms, digest, tag) VALUES ($1, $2, $3, decode($4, 'hex'), $5)",
        [t.cookie, t.action, userTagEventTime(t), tagDigestHex(json), json],
      );
    }
    const oldRead = async (cookie: string, action: string): Promise<string[]> =>
      (
        await before.query<{ tag: string }[]>(
          `SELECT tag FROM profile_tag WHERE cookie = $1 AND action = $2 ORDER BY time_ms DESC, digest DESC LIMIT ${PROFILE_CAPACITY}`,
          [cookie, action],
        )
      ).map((r) => r.tag);
    const expected = {
      views: await oldRead('alice', 'VIEW'),
      buys: await oldRead('alice', 'BUY'),
      other: await oldRead('żółć "🍪"', 'BUY'),
    };
    await before.destroy();

    const after = await createDataSource({ DATABASE_URL: db.url, DATABASE_POOL_SIZE: 2, DATA_DIR: '/nonexistent' });
    try {
      const store = new PgProfileStore(after);
      const alice = await store.read('alice', EVERYTHING, PROFILE_CAPACITY);
      expect(alice.views.map((t) => JSON.stringify(t))).toEqual(expected.views);
      expect(alice.buys.map((t) => JSON.stringify(t))).toEqual(expected.buys);
      expect((await store.read('żółć "🍪"', EVERYTHING, 5)).buys.map((t) => JSON.stringify(t))).toEqual(expected.other);
      expect(expected.views).toHaveLength(PROFILE_CAPACITY);

      // A replay of stored tags changes no answer: the digests carried over identify them.
      await store.append(tags.slice(100, 233));
      const again = await store.read('alice', EVERYTHING, PROFILE_CAPACITY);
      expect(again.views.map((t) => JSON.stringify(t))).toEqual(expected.views);
      expect(again.buys.map((t) => JSON.stringify(t))).toEqual(expected.buys);

      // The migrations after this one first (profile_list.written_at), then this one.
      const later = MIGRATIONS.length - 4;
      for (let i = 0; i < later; i++) await after.undoLastMigration();
      const [{ column }] = await after.query<{ column: string | null }[]>(
        "SELECT (SELECT attname FROM pg_attribute WHERE attrelid = 'profile_list'::regclass AND attname = 'written_at') AS column",
      );
      expect(column).toBeNull();
      await after.undoLastMigration();
      const [{ n }] = await after.query<{ n: string }[]>('SELECT count(*) AS n FROM profile_tag');
      expect(Number(n)).toBe(PROFILE_CAPACITY + 3 + 1);
      const back = await after.query<{ tag: string }[]>(
        "SELECT tag FROM profile_tag WHERE cookie = 'alice' AND action = 'VIEW' ORDER BY time_ms DESC, digest DESC",
      );
      expect(back.map((r) => r.tag)).toEqual(expected.views);
    } finally {
      await closeDataSource(after);
      await db.drop();
    }
  });
});
