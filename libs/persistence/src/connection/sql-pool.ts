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
 * Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws.
 * A connection whose ROLLBACK fails is discarded rather than returned to the pool. `settings`
 * (parameterless `SET LOCAL ...` statements) go with the BEGIN, in the same round trip.
 */
export async function inTransaction<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  settings?: string,
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
    await client.query(settings ? `BEGIN; ${settings}` : 'BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
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
export function hotQuery(name: string, text: string, named: boolean): (values: unknown[]) => QueryConfig {
  return named ? (values) => ({ name, text, values }) : (values) => ({ text, values });
}
