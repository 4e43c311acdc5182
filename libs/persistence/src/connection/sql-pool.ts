import { Pool, PoolClient, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/**
 * The `pg` pool behind a DataSource. The stores run their parameterised SQL on it directly: the
 * profile read is a hot path, and a TypeORM QueryRunner per query adds allocation and bookkeeping
 * for nothing these queries use.
 */
export function poolOf(dataSource: DataSource): Pool {
  if (!(dataSource.driver instanceof PostgresDriver)) {
    throw new Error(`libs/persistence needs a postgres DataSource, got ${dataSource.options.type}`);
  }
  const pool: unknown = dataSource.driver.master;
  if (!(pool instanceof Pool)) throw new Error('the DataSource has no pg pool: initialise it first');
  return pool;
}

/**
 * How long the stores' statements may take on a PostgreSQL server, in ms; undefined: unbounded (the
 * embedded PGlite, whose one session must never be abandoned mid-statement). Each bound is pg's
 * client-side `query_timeout`: it holds when the server is frozen or the network silent (a server-side
 * statement_timeout would not), and a connection that timed out is discarded, never reused.
 */
export interface SqlTimeouts {
  readonly readMs?: number;
  readonly writeMs?: number;
}

/** pg reads `query_timeout` from a query's config too; @types/pg leaves it out of QueryConfig. */
type BoundedQueryConfig = QueryConfig & { query_timeout?: number };

/** pg's message for a statement that outlived its query_timeout. */
const QUERY_TIMEOUT_MESSAGE = 'Query read timeout';

/** True for the error of a statement that outlived its bound (the server may still run it, or have run it). */
export function isQueryTimeout(err: unknown): boolean {
  return err instanceof Error && err.message === QUERY_TIMEOUT_MESSAGE;
}

/** A statement with its bound (none when `timeoutMs` is undefined). */
export function bounded(text: string, values: unknown[], timeoutMs: number | undefined): QueryConfig {
  const config: BoundedQueryConfig = { text, values, query_timeout: timeoutMs };
  return config;
}

/**
 * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws.
 * A connection whose ROLLBACK fails is discarded rather than returned to the pool. `settings`
 * (parameterless `SET LOCAL ...` statements) go with the BEGIN, in the same round trip. With
 * `timeoutMs`, BEGIN, COMMIT and ROLLBACK are bounded by it (`fn` bounds its own statements); after a
 * timeout the connection is discarded without a ROLLBACK, which would only queue behind the statement
 * still outstanding (the server rolls back a transaction whose session ends).
 */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  settings?: string,
  timeoutMs?: number,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client has no listener of the pool's for its 'error' event, which it emits when the
  // server ends the session between statements (a restart: 57P01). Unheard, that event would crash the
  // process; heard, the statement in flight or the next one fails, and the connection is discarded.
  const onError = (err: Error): void => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    // Without parameters pg uses the simple protocol, which takes several statements at once.
    await client.query(bounded(settings ? `BEGIN; ${settings}` : 'BEGIN', [], timeoutMs));
    const result = await fn(client);
    await client.query(bounded('COMMIT', [], timeoutMs));
    return result;
  } catch (err) {
    if (isQueryTimeout(err)) {
      broken ??= err as Error;
    } else {
      await client.query(bounded('ROLLBACK', [], timeoutMs)).catch((rollbackError: Error) => {
        broken = rollbackError;
      });
    }
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * A hot-path query, as a named prepared statement where that is safe: each pooled connection then
 * parses and plans it once instead of on every call. Not on the embedded PGlite, whose one session
 * outlives its connections (a new connection preparing the same name again would fail).
 */
export function hotQuery(
  name: string,
  text: string,
  named: boolean,
  timeoutMs?: number,
): (values: unknown[]) => QueryConfig {
  return named
    ? (values): BoundedQueryConfig => ({ name, text, values, query_timeout: timeoutMs })
    : (values): BoundedQueryConfig => ({ text, values, query_timeout: timeoutMs });
}

/**
 * `work()`, rejected after `ms` with an error naming `what` (the work itself goes on: a statement still
 * finishes or fails on its own). Unbounded when `ms` is undefined. For calls that take no timeout of their
 * own: TypeORM's Repository, the readiness probe.
 */
export function within<T>(ms: number | undefined, what: string, work: () => Promise<T>): Promise<T> {
  if (ms === undefined) return work();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work(), timeout]).finally(() => clearTimeout(timer));
}
