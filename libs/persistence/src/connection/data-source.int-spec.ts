/**
 * Connection and schema: migrations applied once even when several apps start together, the embedded
 * PGlite shared by every DataSource of a process and persisted on disk, and refused to a second process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/test-env';
import { MIGRATIONS } from '../migrations';
import { closeDataSource, createDataSource, isEmbedded } from './data-source.factory';

jest.setTimeout(120_000);

async function appliedMigrations(dataSource: DataSource): Promise<string[]> {
  const rows = await dataSource.query<{ name: string }[]>('SELECT name FROM migrations ORDER BY id');
  return rows.map((r) => r.name);
}

describe('createDataSource on a PostgreSQL server', () => {
  it('applies every migration exactly once when several apps start at the same time', async () => {
    const db = await createTestDatabase('migrate');
    const config = { DATABASE_URL: db.url, DATABASE_POOL_SIZE: 1, DATA_DIR: '/nonexistent' };
    const sources = await Promise.all([createDataSource(config), createDataSource(config), createDataSource(config)]);
    try {
      expect(await appliedMigrations(sources[0])).toEqual(MIGRATIONS.map((m) => m.name));
      expect(isEmbedded(sources[0])).toBe(false);
      const tables = await sources[1].query<{ tablename: string }[]>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
      );
      expect(tables.map((t) => t.tablename)).toEqual([
        'consumer_offset',
        'cube_dimension',
        'migrations',
        'minute_cube',
        'profile_list',
        'trade_stats_window',
      ]);
      // Debian's server has lz4: profile lists use it (PGlite keeps its default).
      const compression = await sources[1].query<{ c: string }[]>(
        "SELECT attcompression AS c FROM pg_attribute WHERE attrelid = 'profile_list'::regclass AND attname IN ('head', 'body')",
      );
      expect(compression.map((r) => r.c)).toEqual(['l', 'l']);
      // A pool of one connection suffices: migrations hold their advisory lock on the connection they run on.
      expect(sources[2].options).toMatchObject({ poolSize: 1 });
    } finally {
      await Promise.all(sources.map(closeDataSource));
      await db.drop();
    }
  });

  it('fails with the server error when the database does not exist', async () => {
    const db = await createTestDatabase('missing');
    await db.drop();
    await expect(
      createDataSource({ DATABASE_URL: db.url, DATABASE_POOL_SIZE: 1, DATA_DIR: '/nonexistent' }),
    ).rejects.toThrow(/does not exist/);
  });
});

describe('createDataSource on the embedded PGlite (DATABASE_URL unset)', () => {
  let dataDir: string;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'pglite-ds-'));
  });

  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves every caller of the process from one PGlite through one connection, persisted under DATA_DIR', async () => {
    const config = { DATABASE_POOL_SIZE: 3, DATA_DIR: dataDir };
    const [a, b] = await Promise.all([createDataSource(config), createDataSource(config)]);
    expect(isEmbedded(a)).toBe(true);
    // One DataSource, one connection: PGlite is one session, which two connections would share unsafely.
    expect(b).toBe(a);
    expect(a.options).toMatchObject({ poolSize: 1 });
    await a.query("INSERT INTO consumer_offset (group_id, topic, partition, next_offset) VALUES ('g', 't', 0, 42)");
    expect(await b.query('SELECT next_offset FROM consumer_offset')).toEqual([{ next_offset: '42' }]);
    expect(await appliedMigrations(b)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(true);

    await closeDataSource(a);
    expect(await b.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await closeDataSource(b);
    await closeDataSource(b);
    expect(existsSync(join(dataDir, 'pglite.lock'))).toBe(false);

    const reopened = await createDataSource(config);
    try {
      expect(await reopened.query('SELECT next_offset FROM consumer_offset')).toEqual([{ next_offset: '42' }]);
      expect(await appliedMigrations(reopened)).toEqual(MIGRATIONS.map((m) => m.name));
    } finally {
      await closeDataSource(reopened);
    }
  });

  it('refuses a DATA_DIR that another live process holds, and takes over one left by a dead process', async () => {
    const holder = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dataDir, 'pglite.lock'), String(holder.pid));
      await expect(createDataSource({ DATABASE_POOL_SIZE: 1, DATA_DIR: dataDir })).rejects.toThrow(
        new RegExp(`in use by process ${holder.pid}`),
      );
    } finally {
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const dataSource = await createDataSource({ DATABASE_POOL_SIZE: 1, DATA_DIR: dataDir });
    await closeDataSource(dataSource);
  });
});
