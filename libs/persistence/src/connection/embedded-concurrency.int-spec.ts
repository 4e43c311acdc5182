/**
 * The embedded PGlite under concurrent use, as the embedded mode loads it: several callers of
 * createDataSource in one process (gateway, pipeline, agg-producer's readers), each asking for
 * a pool of several connections, appending and reading profiles, flushing and querying the cube,
 * running plain queries and transactions that roll back, all at once. Every answer is checked
 * against a model.
 *
 * PGlite is one backend session. While each DataSource had connections of its own, the
 * extended-protocol messages of different connections interleaved on it (`portal "" does not
 * exist`, `unnamed prepared statement does not exist`, bind errors, another query's result: about
 * 170 problems and then a hang in this test) and a connection's queries could run inside another's
 * open transaction.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Action, cubeKeysOfTag, CubeDelta, minuteBucketOf, UserTag, userTagEventTime } from '@lib/domain';
import { DataSource } from 'typeorm';
import { PgAggregateStore } from '../aggregates/pg-aggregate.store';
import { PgProfileStore } from '../profiles/pg-profile.store';
import { closeDataSource, createDataSource } from './data-source.factory';

jest.setTimeout(240_000);

const T0 = Date.parse('2022-03-22T12:00:00.000Z');
const MINUTE = 60_000;
const EVERYTHING = { fromMs: T0 - 3_600_000, toMs: T0 + 3_600_000 };
const ROUNDS = 25;

function tag(cookie: string, timeMs: number, action: Action, origin: string, price: number): UserTag {
  return {
    time: new Date(timeMs).toISOString(),
    cookie,
    country: 'PL',
    device: 'PC',
    action,
    origin,
    product_info: { product_id: price, brand_id: 'brand', category_id: 'category', price },
  };
}

/** A hung answer is a failure too, reported as such rather than as the test's timeout. */
function within<T>(what: string, promise: Promise<T>, ms = 20_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function newestFirst(tags: readonly UserTag[]): string[] {
  return [...tags].sort((a, b) => userTagEventTime(b) - userTagEventTime(a)).map((t) => JSON.stringify(t));
}

describe('the embedded PGlite under concurrent use by several apps of one process', () => {
  let dir: string;
  let sources: DataSource[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pglite-concurrency-'));
    const config = { DATABASE_POOL_SIZE: 4, DATA_DIR: dir };
    sources = await Promise.all([createDataSource(config), createDataSource(config), createDataSource(config)]);
  });

  afterAll(async () => {
    await within('close', Promise.all((sources ?? []).map(closeDataSource)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers every read, flush, query and transaction as if each ran alone', async () => {
    const [gateway, profilesSource, aggregatesSource] = sources;
    const reader = new PgProfileStore(gateway);
    const writer = new PgProfileStore(profilesSource);
    const cubeWriter = new PgAggregateStore(aggregatesSource);
    const cubeReader = new PgAggregateStore(gateway);
    const problems: string[] = [];
    // A hung database hangs every later call too: the workers stop at the first hang.
    let hung = false;
    const record = (what: string) => (err: unknown) => {
      const message = (err as Error).message;
      problems.push(`${what}: ${message}`);
      if (message.includes('no answer within')) hung = true;
    };

    /** Appends to its own cookie on one DataSource and reads it back on another. */
    const profileWorker = async (w: number): Promise<void> => {
      const cookie = `cookie-${w}`;
      const stored: UserTag[] = [];
      for (let round = 0; round < ROUNDS && !hung; round++) {
        const batch = [0, 1, 2].map((i) => tag(cookie, T0 + (round * 3 + i) * 1_000, i === 1 ? 'BUY' : 'VIEW', 'o', i));
        try {
          await within('append', writer.append(batch));
          stored.push(...batch);
          const profile = await within('read', reader.read(cookie, EVERYTHING, 1_000));
          const want = {
            views: newestFirst(stored.filter((t) => t.action === 'VIEW')),
            buys: newestFirst(stored.filter((t) => t.action === 'BUY')),
          };
          const got = {
            views: profile.views.map((t) => JSON.stringify(t)),
            buys: profile.buys.map((t) => JSON.stringify(t)),
          };
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            problems.push(
              `profile ${cookie} round ${round}: ${got.views.length}+${got.buys.length} tags, want ${want.views.length}+${want.buys.length}`,
            );
          }
        } catch (err) {
          record(`profile ${cookie} round ${round}`)(err);
        }
      }
    };

    /** Flushes its own partition and origin, then queries that origin's slice. */
    const cubeWorker = async (w: number): Promise<void> => {
      const origin = `origin-${w}`;
      let offset: string | null = null;
      let count = 0n;
      let sum = 0n;
      for (let round = 0; round < ROUNDS && !hung; round++) {
        const price = BigInt(round + 1);
        const deltas: CubeDelta[] = cubeKeysOfTag(minuteBucketOf(T0), 'VIEW', origin, 'b', 'c').map((key) => ({
          key,
          count: 1,
          sumPrice: price,
        }));
        const next = String(round + 1);
        try {
          const result = await within(
            'flush',
            cubeWriter.flush({
              groupId: 'g',
              topic: 't',
              partitions: [{ partition: w, expectedOffset: offset, nextOffset: next, deltas }],
            }),
          );
          if (result.applied.length !== 1) problems.push(`flush ${w} round ${round}: ${JSON.stringify(result)}`);
          offset = next;
          count += 1n;
          sum += price;
          const rows = await within(
            'query',
            cubeReader.query({
              range: { fromMs: minuteBucketOf(T0), toMs: minuteBucketOf(T0) + 10 * MINUTE },
              action: 'VIEW',
              filters: { origin },
            }),
          );
          const want = [{ bucketMs: minuteBucketOf(T0), count, sumPrice: sum }];
          if (
            JSON.stringify(rows, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) !==
            JSON.stringify(want, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))
          ) {
            problems.push(`cube ${origin} round ${round}: ${rows.length} rows, count ${rows[0]?.count}, want ${count}`);
          }
        } catch (err) {
          record(`cube ${origin} round ${round}`)(err);
        }
      }
    };

    /** Plain parameterised queries: each answer is the question's own value. */
    const echoWorker = async (w: number, source: DataSource): Promise<void> => {
      for (let round = 0; round < ROUNDS * 2 && !hung; round++) {
        const value = `echo-${w}-${round}`;
        try {
          const rows = await within(
            'echo',
            source.query<{ v: string; n: number }[]>('SELECT $1::text AS v, $2::int + 1 AS n', [value, round]),
          );
          if (rows?.[0]?.v !== value || rows[0].n !== round + 1) {
            problems.push(`echo ${value}: got ${JSON.stringify(rows)}`);
          }
        } catch (err) {
          record(`echo ${value}`)(err);
        }
      }
    };

    /** Transactions that write a row and roll back: nobody else may ever see it. */
    const ghostWriter = async (source: DataSource): Promise<void> => {
      for (let round = 0; round < ROUNDS && !hung; round++) {
        await within(
          'transaction',
          source.transaction(async (manager) => {
            await manager.query(
              "INSERT INTO consumer_offset (group_id, topic, partition, next_offset) VALUES ('ghost', 't', $1, 1)",
              [round],
            );
            await manager.query('SELECT count(*) FROM profile_list');
            throw new Error('rollback');
          }),
        ).catch((err: Error) => {
          if (err.message !== 'rollback') record(`ghost round ${round}`)(err);
        });
      }
    };
    const ghostReader = async (source: DataSource): Promise<void> => {
      for (let round = 0; round < ROUNDS * 2 && !hung; round++) {
        try {
          const rows = await within(
            'ghost read',
            source.query<{ n: number }[]>("SELECT count(*)::int AS n FROM consumer_offset WHERE group_id = 'ghost'"),
          );
          if (rows?.[0]?.n !== 0) problems.push(`saw ${JSON.stringify(rows)} uncommitted ghost rows`);
        } catch (err) {
          record(`ghost read ${round}`)(err);
        }
      }
    };

    await Promise.all([
      ...[0, 1, 2, 3].map(profileWorker),
      ...[0, 1, 2, 3].map(cubeWorker),
      ...sources.map((s, i) => echoWorker(i, s)),
      ghostWriter(profilesSource),
      ghostReader(gateway),
      ghostReader(aggregatesSource),
    ]);

    expect(problems).toEqual([]);
    // Nothing was left behind by the rolled-back transactions, and every flush stored its offset.
    expect(await gateway.query("SELECT count(*)::int AS n FROM consumer_offset WHERE group_id = 'ghost'")).toEqual([
      { n: 0 },
    ]);
    expect(await cubeReader.storedOffsets('g', 't')).toEqual(new Map([0, 1, 2, 3].map((p) => [p, String(ROUNDS)])));
  });
});
