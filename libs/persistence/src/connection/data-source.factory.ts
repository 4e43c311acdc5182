import { DataSource, MigrationExecutor } from 'typeorm';
import { MIGRATIONS } from '../migrations';
import { ENTITIES } from '../entities';
import { DatabaseConfig } from '../persistence.config';
import { acquireEmbeddedPostgres, embeddedDataDir, EmbeddedPostgresLease } from './embedded-postgres';
import type { SqlTimeouts } from './sql-pool';

export interface DataSourceOptions {
  /** Shown in pg_stat_activity; default `streaming-analytics`. */
  readonly applicationName?: string;
}

/**
 * How long a caller may wait for the embedded database's one connection. Every statement of the
 * process queues for it, behind whatever transaction runs (a large flush or a migration holds it for
 * seconds on PGlite); the 5 s a server's pool waits would report a busy database as unreachable.
 */
const EMBEDDED_WAIT_MS = 60_000;

/** The embedded database's one DataSource per directory, shared by every caller of the process. */
interface SharedEmbedded {
  readonly dir: string;
  refs: number;
  readonly opened: Promise<DataSource>;
  readonly lease: Promise<EmbeddedPostgresLease>;
}

/** The default bounds of a server's statements (DATABASE_QUERY_TIMEOUT_MS, DATABASE_WRITE_TIMEOUT_MS). */
const READ_TIMEOUT_MS = 5_000;
const WRITE_TIMEOUT_MS = 60_000;

/** The bounds of each server DataSource's statements; the embedded one has none. */
const timeouts = new WeakMap<DataSource, SqlTimeouts>();

const embedded = new Map<string, SharedEmbedded>();
/** Shared DataSources, to find their entry on close. */
const sharedBy = new WeakMap<DataSource, SharedEmbedded>();

/**
 * An initialised TypeORM DataSource on `pg`, with every migration applied (never `synchronize`).
 *
 * DATABASE_URL set: a new DataSource on that server, whose pool holds at most DATABASE_POOL_SIZE
 * connections. Waiting for a connection is bounded by DATABASE_QUERY_TIMEOUT_MS, and so are the
 * stores' reads; their writes by DATABASE_WRITE_TIMEOUT_MS (sqlTimeoutsOf). Migrations are not bounded:
 * a migration of a large table may take minutes.
 *
 * Unset: PGlite persisted under DATA_DIR/pglite, served on a loopback port (embedded-postgres.ts).
 * PGlite is ONE backend session, and pglite-socket multiplexes every client connection onto it
 * message by message: two connections' extended-protocol sequences (Parse/Bind/Execute/Sync)
 * interleave and clobber each other's unnamed statement and portal, and one connection's queries
 * can run inside another's open transaction. So the process uses one connection to it: every
 * caller gets the same DataSource, whose pool has exactly one connection, and the pool serialises
 * every statement and transaction of every app (DATABASE_POOL_SIZE does not apply). That is what
 * the database does anyway (it runs one statement at a time); the pool makes it safe.
 *
 * Close it with closeDataSource, once per createDataSource: the shared one is reference counted (the
 * first caller's options apply), and the last close stops the embedded database.
 */
export async function createDataSource(config: DatabaseConfig, options: DataSourceOptions = {}): Promise<DataSource> {
  if (!config.DATABASE_URL) return openEmbedded(embeddedDataDir(config.DATA_DIR), options);
  const readMs = config.DATABASE_QUERY_TIMEOUT_MS ?? READ_TIMEOUT_MS;
  const dataSource = newDataSource({ url: config.DATABASE_URL }, config.DATABASE_POOL_SIZE, readMs, options);
  await initialise(dataSource, config.DATABASE_URL);
  timeouts.set(dataSource, { readMs, writeMs: config.DATABASE_WRITE_TIMEOUT_MS ?? WRITE_TIMEOUT_MS });
  return dataSource;
}

/** How long the stores' statements on `dataSource` may take (none on the embedded PGlite). */
export function sqlTimeoutsOf(dataSource: DataSource): SqlTimeouts {
  return timeouts.get(dataSource) ?? {};
}

/** True when the DataSource runs on the embedded PGlite (one shared backend session). */
export function isEmbedded(dataSource: DataSource): boolean {
  return sharedBy.has(dataSource);
}

/**
 * Closes the pool of a server's DataSource (idempotent). For the embedded database, gives back one
 * reference; the last one closes the pool and stops the database.
 */
export async function closeDataSource(dataSource: DataSource): Promise<void> {
  const shared = sharedBy.get(dataSource);
  if (shared === undefined) {
    if (dataSource.isInitialized) await dataSource.destroy();
    return;
  }
  if (shared.refs === 0) return;
  shared.refs -= 1;
  if (shared.refs > 0) return;
  if (embedded.get(shared.dir) === shared) embedded.delete(shared.dir);
  try {
    if (dataSource.isInitialized) await dataSource.destroy();
  } finally {
    await (await shared.lease).release();
  }
}

async function openEmbedded(dir: string, options: DataSourceOptions): Promise<DataSource> {
  let shared = embedded.get(dir);
  if (shared === undefined) {
    const lease = acquireEmbeddedPostgres(dir);
    const opened = lease.then(async (l) => {
      const target = { host: l.host, port: l.port, username: 'postgres', database: 'postgres' };
      const dataSource = newDataSource(target, 1, EMBEDDED_WAIT_MS, options);
      try {
        await initialise(dataSource, l.dataDir);
      } catch (err) {
        await l.release();
        throw err;
      }
      return dataSource;
    });
    const created: SharedEmbedded = { dir, refs: 0, opened, lease };
    shared = created;
    embedded.set(dir, created);
    // A failed open must not be handed to the next caller.
    opened.catch(() => {
      if (embedded.get(dir) === created) embedded.delete(dir);
    });
  }
  shared.refs += 1;
  try {
    const dataSource = await shared.opened;
    sharedBy.set(dataSource, shared);
    return dataSource;
  } catch (err) {
    shared.refs -= 1;
    throw err;
  }
}

function newDataSource(
  target: { url: string } | { host: string; port: number; username: string; database: string },
  poolSize: number,
  waitMs: number,
  options: DataSourceOptions,
): DataSource {
  return new DataSource({
    type: 'postgres',
    ...target,
    applicationName: options.applicationName ?? 'streaming-analytics',
    poolSize,
    // pg's pool applies this both to opening a connection and to waiting for a free one.
    connectTimeoutMS: waitMs,
    extra: { idleTimeoutMillis: 30_000, keepAlive: true },
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    logging: false,
  });
}

async function initialise(dataSource: DataSource, databaseKey: string): Promise<void> {
  try {
    await dataSource.initialize();
    await migrate(dataSource, databaseKey);
  } catch (err) {
    if (dataSource.isInitialized) await dataSource.destroy().catch(() => undefined);
    throw err;
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
