/**
 * Smoke test of the real PostgreSQL server from global-setup: a fresh database per suite, a TypeORM
 * migration run by the DataSource at initialisation, then real inserts and queries.
 */
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../support/test-env';

class CreateSmokeWidgets1700000000000 implements MigrationInterface {
  name = 'CreateSmokeWidgets1700000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE smoke_widget (
        id         bigserial PRIMARY KEY,
        name       text        NOT NULL UNIQUE,
        weight     numeric(10, 3) NOT NULL CHECK (weight > 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE smoke_widget');
  }
}

describe('PostgreSQL server (smoke)', () => {
  let db: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('smoke');
    dataSource = new DataSource({
      type: 'postgres',
      url: db.url,
      migrations: [CreateSmokeWidgets1700000000000],
      migrationsRun: true,
      logging: false,
    });
    await dataSource.initialize();
  });

  afterAll(async () => {
    if (dataSource?.isInitialized) await dataSource.destroy();
    await db?.drop();
  });

  it('ran the migration once, on its own fresh database', async () => {
    const [{ current }] = await dataSource.query<{ current: string }[]>('SELECT current_database() AS current');
    expect(current).toBe(db.name);
    const applied = await dataSource.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
    expect(applied.map((m) => m.name)).toEqual(['CreateSmokeWidgets1700000000000']);
    expect(await dataSource.showMigrations()).toBe(false); // nothing pending
  });

  it('inserts and queries rows, and enforces the constraints', async () => {
    await dataSource.query('INSERT INTO smoke_widget (name, weight) VALUES ($1, $2), ($3, $4)', [
      'anvil',
      12.5,
      'feather',
      0.001,
    ]);
    const rows = await dataSource.query<{ name: string; weight: string }[]>(
      'SELECT name, weight FROM smoke_widget ORDER BY weight DESC',
    );
    expect(rows).toEqual([
      { name: 'anvil', weight: '12.500' },
      { name: 'feather', weight: '0.001' },
    ]);
    await expect(dataSource.query("INSERT INTO smoke_widget (name, weight) VALUES ('anvil', 1)")).rejects.toThrow(
      /duplicate key/,
    );
    await expect(dataSource.query("INSERT INTO smoke_widget (name, weight) VALUES ('ghost', 0)")).rejects.toThrow(
      /check constraint/,
    );
  });
});
