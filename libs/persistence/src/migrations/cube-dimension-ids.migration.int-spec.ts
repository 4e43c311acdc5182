/**
 * The move of the minute cube from text keys to cube_dimension ids keeps every answer: cells written
 * in the text layout answer the same queries through the store afterwards, new flushes add to them,
 * and `down` gives the text layout back with the same cells.
 */
import { AggregateQuery, cubeKeysOfTag } from '@lib/domain';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/test-env';
import { keyText } from '../key-text';
import { PgAggregateStore } from '../aggregates/pg-aggregate.store';
import { MIGRATIONS } from '.';

jest.setTimeout(60_000);

const B0 = Date.parse('2022-03-01T00:00:00Z');
const MINUTE = 60_000;
const ODD = 'żółć "🍪" \u0000 \\';

describe('migration CubeDimensionIds1764000000006', () => {
  it('moves the text-keyed cells over, answering as before, and back with down', async () => {
    const db = await createTestDatabase('cube-ids-migration');
    const before = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS.slice(0, 6) });
    await before.initialize();
    await before.runMigrations();
    // Two tags' cells, as the text-keyed store wrote them (keyText'd values, '' for unfixed).
    const tags = [
      { bucketMs: B0, origin: 'o1', brand: 'b1', category: ODD, price: 5 },
      { bucketMs: B0 + MINUTE, origin: ODD, brand: 'b1', category: 'k2', price: 7 },
    ];
    for (const t of tags) {
      for (const key of cubeKeysOfTag(t.bucketMs, 'BUY', t.origin, t.brand, t.category)) {
        await before.query(
          `INSERT INTO minute_cube (bucket_ms, action, dims, origin, brand_id, category_id, count, sum_price)
           VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
           ON CONFLICT (action, dims, origin, brand_id, category_id, bucket_ms)
           DO UPDATE SET count = minute_cube.count + 1, sum_price = minute_cube.sum_price + excluded.sum_price`,
          [
            key.bucketMs,
            key.action,
            key.dims,
            keyText(key.origin),
            keyText(key.brandId),
            keyText(key.categoryId),
            t.price,
          ],
        );
      }
    }
    const textRows = async (ds: DataSource): Promise<unknown[]> =>
      ds.query(
        'SELECT bucket_ms, action, dims, origin, brand_id, category_id, count, sum_price FROM minute_cube ORDER BY 1, 2, 3, 4, 5, 6',
      );
    const original = await textRows(before);
    expect(original).toHaveLength(16); // 8 cells of each tag, in two minutes
    await before.destroy();

    const after = new DataSource({ type: 'postgres', url: db.url, migrations: MIGRATIONS.slice(0, 7) });
    await after.initialize();
    await after.runMigrations();
    const store = new PgAggregateStore(after);
    const range = { fromMs: B0, toMs: B0 + 2 * MINUTE };
    const ask = (filters: AggregateQuery['filters']): ReturnType<PgAggregateStore['query']> =>
      store.query({ range, action: 'BUY', filters });
    expect(await ask({})).toEqual([
      { bucketMs: B0, count: 1n, sumPrice: 5n },
      { bucketMs: B0 + MINUTE, count: 1n, sumPrice: 7n },
    ]);
    expect(await ask({ brand_id: 'b1' })).toEqual([
      { bucketMs: B0, count: 1n, sumPrice: 5n },
      { bucketMs: B0 + MINUTE, count: 1n, sumPrice: 7n },
    ]);
    expect(await ask({ origin: ODD, category_id: 'k2' })).toEqual([{ bucketMs: B0 + MINUTE, count: 1n, sumPrice: 7n }]);
    expect(await ask({ category_id: ODD })).toEqual([{ bucketMs: B0, count: 1n, sumPrice: 5n }]);
    // A flush after the move adds to a migrated cell and adds a value of its own.
    await store.flush({
      groupId: 'g',
      topic: 't',
      partitions: [
        {
          partition: 0,
          expectedOffset: null,
          nextOffset: '1',
          deltas: cubeKeysOfTag(B0, 'BUY', 'o1', 'b9', ODD).map((key) => ({ key, count: 1, sumPrice: 100n })),
        },
      ],
    });
    expect(await ask({ category_id: ODD })).toEqual([{ bucketMs: B0, count: 2n, sumPrice: 105n }]);
    expect(await ask({ brand_id: 'b9' })).toEqual([{ bucketMs: B0, count: 1n, sumPrice: 100n }]);

    // Down: the text layout again: the migrated cells, the 4 the new tag shares with the first one
    // (those without a brand) one tag larger, and its 4 cells with brand b9.
    await after.undoLastMigration();
    type Row = { bucket_ms: string; dims: number; brand_id: string; count: string; sum_price: string };
    const back = (await textRows(after)) as Row[];
    expect(back).toHaveLength(20);
    expect(back.filter((r) => r.brand_id === 'b9').map((r) => [r.count, r.sum_price])).toEqual(
      Array.from({ length: 4 }, () => ['1', '100']),
    );
    const shared = (r: Row): boolean => Number(r.bucket_ms) === B0 && (r.dims & 2) === 0;
    expect(back.filter((r) => r.brand_id !== 'b9')).toEqual(
      (original as Row[]).map((r) =>
        shared(r) ? { ...r, count: String(Number(r.count) + 1), sum_price: String(Number(r.sum_price) + 100) } : r,
      ),
    );
    await after.destroy();
    await db.drop();
  });
});
