/**
 * The AggregateStore contract (libs/domain/src/ports/aggregate-store.port.ts) on PostgreSQL (the test
 * server) and PGlite (the embedded mode's database): additive upserts, fencing, stored offsets,
 * queries of every filter subset against a model, retention, and racing flushers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Action,
  AggregateStore,
  ALL_DIM_MASKS,
  CubeDelta,
  CubeFilters,
  cubeKeysOfTag,
  DIM_BRAND,
  DIM_CATEGORY,
  DIM_ORIGIN,
  minuteBucketOf,
  PartitionDelta,
} from '@lib/domain';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/test-env';
import { closeDataSource, createDataSource } from '../connection/data-source.factory';
import { PgAggregateStore } from './pg-aggregate.store';

// Starting PGlite (initdb in WebAssembly on a fresh directory) alone takes several seconds on 2 cores.
jest.setTimeout(120_000);

interface Opened {
  readonly store: AggregateStore;
  readonly dataSource: DataSource;
  /** A second store on its own pool, as another pipeline replica would have. */
  readonly rival: AggregateStore;
  close(): Promise<void>;
}

const targets: Array<{ name: string; open(): Promise<Opened> }> = [
  {
    name: 'PgAggregateStore on PostgreSQL',
    open: async () => {
      const db = await createTestDatabase('aggregates');
      const config = { DATABASE_URL: db.url, DATABASE_POOL_SIZE: 4, DATA_DIR: '/nonexistent' };
      const dataSource = await createDataSource(config);
      const rivalSource = await createDataSource(config);
      return {
        // Small delete chunks, so retention here loops as it does on a large cube.
        store: new PgAggregateStore(dataSource, { deleteChunk: 50 }),
        rival: new PgAggregateStore(rivalSource),
        dataSource,
        close: async () => {
          await closeDataSource(rivalSource);
          await closeDataSource(dataSource);
          await db.drop();
        },
      };
    },
  },
  {
    name: 'PgAggregateStore on PGlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'aggregates-pglite-'));
      const config = { DATABASE_POOL_SIZE: 4, DATA_DIR: dir };
      const dataSource = await createDataSource(config);
      const rivalSource = await createDataSource(config);
      return {
        store: new PgAggregateStore(dataSource, { deleteChunk: 50 }),
        rival: new PgAggregateStore(rivalSource),
        dataSource,
        close: async () => {
          await closeDataSource(rivalSource);
          await closeDataSource(dataSource);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

const MINUTE = 60_000;
const B0 = Date.parse('2022-03-01T00:00:00Z');
let groupCounter = 0;

/** Groups and topics no other test uses: offsets never leak between tests. */
function freshGroup(): { groupId: string; topic: string } {
  groupCounter += 1;
  return { groupId: `group-${groupCounter}`, topic: `topic-${groupCounter}` };
}

interface Tag {
  bucketMs: number;
  action: Action;
  origin: string;
  brand: string;
  category: string;
  price: number;
}

/** Each tag's eight cells, unmerged: the store must merge repeated cells itself. */
function deltasOf(tags: readonly Tag[]): CubeDelta[] {
  return tags.flatMap((t) =>
    cubeKeysOfTag(t.bucketMs, t.action, t.origin, t.brand, t.category).map((key) => ({
      key,
      count: 1,
      sumPrice: BigInt(t.price),
    })),
  );
}

function partition(
  partition: number,
  expectedOffset: string | null,
  nextOffset: string,
  tags: readonly Tag[],
): PartitionDelta {
  return { partition, expectedOffset, nextOffset, deltas: deltasOf(tags) };
}

/** The model: what a query must answer, computed from the raw tags. */
function expected(tags: readonly Tag[], action: Action, filters: CubeFilters, fromMs: number, toMs: number) {
  const buckets = new Map<number, { count: bigint; sumPrice: bigint }>();
  for (const t of tags) {
    if (t.action !== action || t.bucketMs < fromMs || t.bucketMs >= toMs) continue;
    if (filters.origin !== undefined && t.origin !== filters.origin) continue;
    if (filters.brand_id !== undefined && t.brand !== filters.brand_id) continue;
    if (filters.category_id !== undefined && t.category !== filters.category_id) continue;
    const b = buckets.get(t.bucketMs) ?? { count: 0n, sumPrice: 0n };
    b.count += 1n;
    b.sumPrice += BigInt(t.price);
    buckets.set(t.bucketMs, b);
  }
  return [...buckets.entries()].sort(([a], [b]) => a - b).map(([bucketMs, v]) => ({ bucketMs, ...v }));
}

/** Deterministic pseudo-random tags over a few minutes, small cardinalities so cells repeat. */
function randomTags(n: number, seed: number, fromBucket = B0, minutes = 6): Tag[] {
  let s = seed;
  const next = (k: number): number => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    return s % k;
  };
  return Array.from({ length: n }, () => ({
    bucketMs: fromBucket + next(minutes) * MINUTE,
    action: next(3) === 0 ? 'BUY' : 'VIEW',
    origin: `origin-${next(4)}`,
    brand: `brand-${next(3)}`,
    category: `category-${next(3)}`,
    price: next(2_000) - 500,
  }));
}

for (const target of targets) {
  describe(`AggregateStore contract: ${target.name}`, () => {
    let opened: Opened;
    let store: AggregateStore;

    beforeAll(async () => {
      opened = await target.open();
      store = opened.store;
    });

    afterAll(async () => {
      await opened?.close();
    });

    beforeEach(async () => {
      await opened.dataSource.query('TRUNCATE minute_cube');
    });

    it('adds flushes up: a cell written twice holds the sum of both', async () => {
      const g = freshGroup();
      const tag: Tag = { bucketMs: B0, action: 'BUY', origin: 'o', brand: 'b', category: 'k', price: 100 };
      expect(
        await store.flush({ ...g, partitions: [partition(0, null, '3', [tag, tag, { ...tag, price: 1 }])] }),
      ).toEqual({
        applied: [0],
        fenced: [],
        rows: 8, // the three tags' 8 cells, each one row
      });
      await store.flush({ ...g, partitions: [partition(0, '3', '4', [{ ...tag, price: 7 }])] });
      const range = { fromMs: B0, toMs: B0 + MINUTE };
      for (const filters of [
        {},
        { origin: 'o' },
        { brand_id: 'b', category_id: 'k' },
        { origin: 'o', brand_id: 'b', category_id: 'k' },
      ]) {
        expect(await store.query({ range, action: 'BUY', filters })).toEqual([
          { bucketMs: B0, count: 4n, sumPrice: 208n },
        ]);
      }
      expect(await store.query({ range, action: 'VIEW', filters: {} })).toEqual([]);
    });

    it('sums one cell across the partitions of a flush and repeated within a partition', async () => {
      const g = freshGroup();
      const tag: Tag = { bucketMs: B0, action: 'VIEW', origin: 'o', brand: 'b', category: 'k', price: 5 };
      const twice = partition(0, null, '2', [tag, tag]);
      await store.flush({
        ...g,
        partitions: [twice, partition(1, null, '1', [{ ...tag, price: 6 }]), partition(2, null, '1', [])],
      });
      expect(
        await store.query({ range: { fromMs: B0, toMs: B0 + MINUTE }, action: 'VIEW', filters: { category_id: 'k' } }),
      ).toEqual([{ bucketMs: B0, count: 3n, sumPrice: 16n }]);
      expect(twice.deltas).toHaveLength(16);
    });

    it('keeps sums exact beyond 2^53 and negative prices', async () => {
      const g = freshGroup();
      const key = cubeKeysOfTag(B0, 'VIEW', 'o', 'b', 'k')[0];
      const huge = 2n ** 62n;
      await store.flush({
        ...g,
        partitions: [
          { partition: 0, expectedOffset: null, nextOffset: '1', deltas: [{ key, count: 1, sumPrice: huge }] },
        ],
      });
      await store.flush({
        ...g,
        partitions: [
          { partition: 0, expectedOffset: '1', nextOffset: '2', deltas: [{ key, count: 2, sumPrice: -5n }] },
        ],
      });
      expect(await store.query({ range: { fromMs: B0, toMs: B0 + MINUTE }, action: 'VIEW', filters: {} })).toEqual([
        { bucketMs: B0, count: 3n, sumPrice: huge - 5n },
      ]);
    });

    it('fences a partition whose expected offset is stale, while the others of the flush apply', async () => {
      const g = freshGroup();
      const tag: Tag = { bucketMs: B0, action: 'VIEW', origin: 'o', brand: 'b', category: 'k', price: 10 };
      await store.flush({ ...g, partitions: [partition(0, null, '100', [tag]), partition(1, null, '50', [tag])] });
      const result = await store.flush({
        ...g,
        partitions: [
          partition(0, '90', '120', [tag, tag]), // stale: stored is 100
          partition(1, '50', '60', [{ ...tag, price: 1 }]),
          partition(2, null, '5', [{ ...tag, price: 2 }]), // first flush of partition 2
          partition(3, '7', '9', [tag]), // claims a stored offset where none is stored
        ],
      });
      // Partitions 1 and 2 count the same 8 cells: 8 rows; the fenced ones' deltas are not among them.
      expect(result).toEqual({ applied: [1, 2], fenced: [0, 3], rows: 8 });
      expect(await store.storedOffsets(g.groupId, g.topic)).toEqual(
        new Map([
          [0, '100'],
          [1, '60'],
          [2, '5'],
        ]),
      );
      expect(await store.query({ range: { fromMs: B0, toMs: B0 + MINUTE }, action: 'VIEW', filters: {} })).toEqual([
        { bucketMs: B0, count: 4n, sumPrice: 23n },
      ]);
      // A first flush (expected null) of a partition that already has an offset is stale as well.
      expect(await store.flush({ ...g, partitions: [partition(1, null, '70', [tag])] })).toEqual({
        applied: [],
        fenced: [1],
        rows: 0,
      });
      expect((await store.storedOffsets(g.groupId, g.topic)).get(1)).toBe('60');
    });

    it('keeps offsets per group and topic and stores an offset even for a flush without deltas', async () => {
      const a = freshGroup();
      const b = freshGroup();
      await store.flush({ ...a, partitions: [partition(0, null, '10', [])] });
      await store.flush({ groupId: a.groupId, topic: b.topic, partitions: [partition(0, null, '20', [])] });
      await store.flush({ ...a, partitions: [partition(0, '10', '9007199254740993', [])] });
      expect(await store.storedOffsets(a.groupId, a.topic)).toEqual(new Map([[0, '9007199254740993']]));
      expect(await store.storedOffsets(a.groupId, b.topic)).toEqual(new Map([[0, '20']]));
      expect(await store.storedOffsets(b.groupId, b.topic)).toEqual(new Map());
      expect(await store.flush({ ...a, partitions: [] })).toEqual({ applied: [], fenced: [], rows: 0 });
    });

    it('answers every filter subset of random tags like the model, one row per stored bucket in time order', async () => {
      const g = freshGroup();
      const tags = randomTags(600, 42);
      // Spread over partitions and several flushes each, as consumers would.
      const offsets = new Map<number, string | null>();
      for (let flush = 0; flush < 3; flush++) {
        const partitions = [0, 1, 2].map((p) => {
          const mine = tags.filter((_, i) => i % 3 === p && Math.floor(i / 200) === flush);
          const delta = partition(p, offsets.get(p) ?? null, String((flush + 1) * 100 + p), mine);
          offsets.set(p, delta.nextOffset);
          return delta;
        });
        expect((await store.flush({ ...g, partitions })).applied).toEqual([0, 1, 2]);
      }
      const fromMs = B0 + MINUTE;
      const toMs = B0 + 5 * MINUTE;
      let checked = 0;
      for (const dims of ALL_DIM_MASKS) {
        for (const action of ['VIEW', 'BUY'] as const) {
          for (const pick of [0, 1, 2]) {
            const filters: CubeFilters = {
              ...(dims & DIM_ORIGIN ? { origin: `origin-${pick}` } : {}),
              ...(dims & DIM_BRAND ? { brand_id: `brand-${(pick + 1) % 3}` } : {}),
              ...(dims & DIM_CATEGORY ? { category_id: `category-${pick}` } : {}),
            };
            const rows = await store.query({ range: { fromMs, toMs }, action, filters });
            expect(rows).toEqual(expected(tags, action, filters, fromMs, toMs));
            checked += rows.length;
          }
        }
      }
      expect(checked).toBeGreaterThan(50);
    });

    it('leaves buckets without tags absent and values never seen empty', async () => {
      const g = freshGroup();
      const tags: Tag[] = [
        { bucketMs: B0, action: 'VIEW', origin: 'o', brand: 'b', category: 'k', price: 1 },
        { bucketMs: B0 + 3 * MINUTE, action: 'VIEW', origin: 'o', brand: 'b', category: 'k', price: 2 },
      ];
      await store.flush({ ...g, partitions: [partition(0, null, '2', tags)] });
      const range = { fromMs: B0, toMs: B0 + 10 * MINUTE };
      expect((await store.query({ range, action: 'VIEW', filters: {} })).map((r) => r.bucketMs)).toEqual([
        B0,
        B0 + 3 * MINUTE,
      ]);
      expect(await store.query({ range, action: 'VIEW', filters: { origin: 'other' } })).toEqual([]);
      expect(
        await store.query({ range: { fromMs: B0 + MINUTE, toMs: B0 + 3 * MINUTE }, action: 'VIEW', filters: {} }),
      ).toEqual([]);
    });

    it('keeps filter values apart whatever their text', async () => {
      const g = freshGroup();
      const odd = [
        "o'); DROP TABLE minute_cube;--",
        'ż🍪',
        'nul\u0000',
        'nul',
        '\ud800',
        '\udc00',
        '%',
        '_',
        'a"b',
        'c\\d',
        '{e, f}',
        'NULL',
        ' ',
      ];
      const tags = odd.map((origin, i): Tag => ({
        bucketMs: B0,
        action: 'BUY',
        origin,
        brand: odd[(i + 1) % odd.length],
        category: 'k',
        price: i + 1,
      }));
      await store.flush({ ...g, partitions: [partition(0, null, '1', tags)] });
      const range = { fromMs: B0, toMs: B0 + MINUTE };
      for (const [i, origin] of odd.entries()) {
        expect(await store.query({ range, action: 'BUY', filters: { origin } })).toEqual([
          { bucketMs: B0, count: 1n, sumPrice: BigInt(i + 1) },
        ]);
        expect(
          await store.query({ range, action: 'BUY', filters: { origin, brand_id: odd[(i + 1) % odd.length] } }),
        ).toHaveLength(1);
      }
    });

    it('reads the bucket holding an unaligned range start', async () => {
      const g = freshGroup();
      await store.flush({
        ...g,
        partitions: [
          partition(0, null, '1', [{ bucketMs: B0, action: 'VIEW', origin: 'o', brand: 'b', category: 'k', price: 5 }]),
        ],
      });
      expect(
        await store.query({ range: { fromMs: B0 + 30_000, toMs: B0 + MINUTE }, action: 'VIEW', filters: {} }),
      ).toEqual([{ bucketMs: minuteBucketOf(B0 + 30_000), count: 1n, sumPrice: 5n }]);
    });

    it('deletes whole buckets older than a bucket start and reports the newest bucket', async () => {
      const g = freshGroup();
      expect(await store.watermarkBucket(1)).toBeUndefined();
      const tags = randomTags(300, 9, B0, 10);
      await store.flush({ ...g, partitions: [partition(0, null, '1', tags)] });
      expect(await store.watermarkBucket(1)).toBe(Math.max(...tags.map((t) => t.bucketMs)));
      const cut = B0 + 4 * MINUTE;
      const cellsBefore = new Set(deltasOf(tags.filter((t) => t.bucketMs < cut)).map((d) => JSON.stringify(d.key)))
        .size;
      // More rows than one delete chunk (50): the store loops until none is left.
      expect(cellsBefore).toBeGreaterThan(50);
      expect(await store.deleteBucketsBefore(cut)).toBe(cellsBefore);
      const range = { fromMs: B0, toMs: B0 + 10 * MINUTE };
      expect(await store.query({ range, action: 'VIEW', filters: {} })).toEqual(
        expected(tags, 'VIEW', {}, cut, range.toMs),
      );
      expect(await store.deleteBucketsBefore(cut)).toBe(0);
      expect(await store.watermarkBucket(1)).toBe(Math.max(...tags.map((t) => t.bucketMs)));
    });

    it('a watermark of n tags: the newest bucket with n tags at or after it, which fewer outliers cannot move', async () => {
      const g = freshGroup();
      const tag = (bucketMs: number, action: 'VIEW' | 'BUY'): Tag => ({
        bucketMs,
        action,
        origin: 'o',
        brand: 'b',
        category: 'k',
        price: 1,
      });
      // Newer than every other case's buckets (the cube is shared by the cases), so only these count below.
      const b1 = B0 + 50 * 365 * 24 * 60 * MINUTE;
      const far = b1 + 30 * 365 * 24 * 60 * MINUTE;
      const tags = [
        ...Array.from({ length: 6 }, () => tag(b1, 'VIEW')),
        ...Array.from({ length: 3 }, () => tag(b1 + MINUTE, 'BUY')),
        tag(b1 + 2 * MINUTE, 'VIEW'),
        tag(far, 'BUY'),
      ];
      await store.flush({ ...g, partitions: [partition(0, null, '1', tags)] });
      // Newest first: far (1 tag), b1+2 (2 in all), b1+1 (5: both actions count), b1 (11).
      expect(await store.watermarkBucket(1)).toBe(far);
      expect(await store.watermarkBucket(2)).toBe(b1 + 2 * MINUTE);
      expect(await store.watermarkBucket(3)).toBe(b1 + MINUTE);
      expect(await store.watermarkBucket(5)).toBe(b1 + MINUTE);
      expect(await store.watermarkBucket(6)).toBe(b1);
      expect(await store.watermarkBucket(11)).toBe(b1);
    });

    it('gives two writers adding the same new values at once one id per value; a query adds none', async () => {
      const range = { fromMs: B0, toMs: B0 + MINUTE };
      // Rounds of 1,000 new values each, both writers at once: one writer's insert waits for the
      // other's and finds the values taken, which its own statement cannot see yet (asked again).
      for (let round = 0; round < 5; round++) {
        const tags: Tag[] = Array.from({ length: 1_000 }, (_, i) => ({
          bucketMs: B0,
          action: 'VIEW',
          origin: `race-${round}-o-${i}`,
          brand: `race-${round}-b-${i % 7}`,
          category: `race-${round}-k-${i % 5}`,
          price: i,
        }));
        const [a, b] = await Promise.all([
          store.flush({ ...freshGroup(), partitions: [partition(0, null, '1', tags)] }),
          opened.rival.flush({ ...freshGroup(), partitions: [partition(0, null, '1', tags)] }),
        ]);
        expect([a.applied, b.applied]).toEqual([[0], [0]]);
        for (const i of [0, 499, 999]) {
          const filters = { origin: `race-${round}-o-${i}`, brand_id: `race-${round}-b-${i % 7}` };
          const want = [{ bucketMs: B0, count: 2n, sumPrice: BigInt(2 * i) }];
          expect(await store.query({ range, action: 'VIEW', filters })).toEqual(want);
          expect(await opened.rival.query({ range, action: 'VIEW', filters })).toEqual(want);
        }
      }
      expect(await store.query({ range, action: 'VIEW', filters: { origin: 'race-never-seen' } })).toEqual([]);
      const [row] = await opened.dataSource.query<{ n: number; values: number; ids: number }[]>(
        `SELECT count(*)::int AS n, count(DISTINCT value)::int AS values, count(DISTINCT id)::int AS ids
         FROM cube_dimension WHERE value LIKE 'race-%'`,
      );
      expect(row).toEqual({ n: 5 * 1_012, values: 5 * 1_012, ids: 5 * 1_012 });
    });

    it('never double-applies when two flushers race on the same partitions', async () => {
      const g = freshGroup();
      const tag: Tag = { bucketMs: B0, action: 'BUY', origin: 'o', brand: 'b', category: 'k', price: 3 };
      let expectedOffset: string | null = null;
      let appliedTags = 0;
      for (let round = 0; round < 15; round++) {
        const next = String((round + 1) * 10);
        // Both continue from the same stored offset with different deltas, partitions listed in
        // opposite orders: exactly one may win each partition, and neither may deadlock.
        const [mine, theirs] = await Promise.all([
          store.flush({
            ...g,
            partitions: [partition(0, expectedOffset, next, [tag]), partition(1, expectedOffset, next, [tag])],
          }),
          opened.rival.flush({
            ...g,
            partitions: [
              partition(1, expectedOffset, next, [tag, tag]),
              partition(0, expectedOffset, next, [tag, tag]),
            ],
          }),
        ]);
        for (const p of [0, 1]) {
          const winners = [mine.applied.includes(p), theirs.applied.includes(p)].filter(Boolean).length;
          expect(winners).toBe(1);
          expect(mine.fenced.includes(p)).toBe(!mine.applied.includes(p));
          appliedTags += mine.applied.includes(p) ? 1 : 2;
        }
        expectedOffset = next;
      }
      const [row] = await store.query({
        range: { fromMs: B0, toMs: B0 + MINUTE },
        action: 'BUY',
        filters: { origin: 'o', brand_id: 'b' },
      });
      expect(row).toEqual({ bucketMs: B0, count: BigInt(appliedTags), sumPrice: BigInt(appliedTags * 3) });
      expect(await store.storedOffsets(g.groupId, g.topic)).toEqual(
        new Map([
          [0, '150'],
          [1, '150'],
        ]),
      );
    });
  });
}
