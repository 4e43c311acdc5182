import { DataSource, MigrationExecutor } from 'typeorm';
import { MIGRATIONS } from '../migrations';
import { DatabaseConfig } from '../persistence.config';
import { acquireEmbeddedPostgres, embeddedDataDir, EmbeddedPostgresLease } from './embedded-postgres';

export interface DataSourceOptions {
  /** Shown in pg_stat_activity; default `streaming-analytics`. */
  readonly applicationName?: string;
}

/** Leases of the embedded PGlite, given back by closeDataSource. */
const leases = new WeakMap<DataSource, EmbeddedPostgresLease>();

/**
 * An initialised TypeORM DataSource on `pg`, with every migration applied (never `synchronize`).
 *
 * DATABASE_URL set: that server. Unset: PGlite persisted under DATA_DIR/pglite, served on a loopback
 * port, shared by every DataSource of this process (see embedded-postgres.ts). The pool holds at
 * most DATABASE_POOL_SIZE connections. Close it with closeDataSource, not destroy(), so the embedded
 * database is stopped when its last user goes.
 */
export async function createDataSource(config: DatabaseConfig, options: DataSourceOptions = {}): Promise<DataSource> {
  const lease = config.DATABASE_URL ? undefined : await acquireEmbeddedPostgres(embeddedDataDir(config.DATA_DIR));
  const target = lease
    ? { host: lease.host, port: lease.port, username: 'postgres', database: 'postgres' }
    : { url: config.DATABASE_URL };
  const dataSource = new DataSource({
    type: 'postgres',
    ...target,
    applicationName: options.applicationName ?? 'streaming-analytics',
    poolSize: config.DATABASE_POOL_SIZE,
    connectTimeoutMS: 5_000,
    extra: { idleTimeoutMillis: 30_000, keepAlive: true },
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    logging: false,
  });
  try {
    await dataSource.initialize();
    await migrate(dataSource, lease?.dataDir ?? config.DATABASE_URL ?? '');
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    await lease?.release();
    throw err;
  }
  if (lease) leases.set(dataSource, lease);
  return dataSource;
}

/** True when the DataSource runs on the embedded PGlite (one shared backend session). */
export function isEmbedded(dataSource: DataSource): boolean {
  return leases.has(dataSource);
}

/** Closes the pool, then gives back the embedded database lease if any. Idempotent. */
export async function closeDataSource(dataSource: DataSource): Promise<void> {
  try {
    if (dataSource.isInitialized) await dataSource.destroy();
  } finally {
    const lease = leases.get(dataSource);
    leases.delete(dataSource);
    await lease?.release();
  }
}

/** Arbitrary, fixed: the session-level advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK_KEY = 4_317_202_611;
/** Migrations of one database within this process, chained: advisory locks do not exclude a session from itself. */
const inProcess = new Map<string, Promise<void>>();

/**
 * Applies pending migrations, one process at a time: every app runs this at start, and several may
 * start together against one database. All pending migrations run in one transaction.
 */
async function migrate(dataSource: DataSource, databaseKey: string): Promise<void> {
  const previous = inProcess.get(databaseKey) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => migrateLocked(dataSource));
  inProcess.set(databaseKey, run);
  try {
    await run;
  } finally {
    if (inProcess.get(databaseKey) === run) inProcess.delete(databaseKey);
  }
}

async function migrateLocked(dataSource: DataSource): Promise<void> {
  // One connection for the lock and the migrations, so a pool of size 1 cannot deadlock on itself.
  const queryRunner = dataSource.createQueryRunner();
  try {
    await queryRunner.connect();
    await queryRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const executor = new MigrationExecutor(dataSource, queryRunner);
      executor.transaction = 'all';
      await executor.executePendingMigrations();
    } finally {
      await queryRunner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await queryRunner.release();
  }
}
