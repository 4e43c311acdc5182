/**
 * inTransaction on a real PostgreSQL server when the server ends the session of a checked-out connection
 * between two statements (what a restart or a fast shutdown does: FATAL 57P01). The client then emits
 * 'error' with nobody of the pool's listening; unheard, that crashed the pipeline in a CI run of the
 * database-outage suite.
 */
import { Pool } from 'pg';
import { createTestDatabase, TestDatabase } from '../../../../test/support/test-env';
import { bounded, inTransaction, isQueryTimeout } from './sql-pool';

describe('inTransaction when the server ends the session mid-transaction', () => {
  let db: TestDatabase;
  let pool: Pool;
  let admin: Pool;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err);
  };

  beforeAll(async () => {
    db = await createTestDatabase('sql_pool');
    pool = new Pool({ connectionString: db.url, max: 2 });
    pool.on('error', () => undefined);
    admin = new Pool({ connectionString: db.url, max: 1 });
    process.on('uncaughtException', onUncaught);
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await pool?.end();
    await admin?.end();
    await db?.drop();
  });

  it('fails the transaction, keeps the process up and discards the connection', async () => {
    let pid = 0;
    const outcome = await inTransaction(pool, async (client) => {
      pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // Ended from outside while this connection sits idle in its transaction.
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      return client.query('SELECT 1');
    }).then(
      () => 'committed',
      (err: Error) => `failed: ${err.message}`,
    );

    expect(outcome).toMatch(/^failed: /);
    expect(uncaught).toEqual([]);
    // The ended connection went away instead of back to the pool: the next transaction gets a live one.
    const next = await inTransaction(pool, (client) => client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'));
    expect(next.rows[0]!.pid).not.toBe(pid);
  });

  it('a statement past its bound fails at the bound, without waiting for a ROLLBACK; the connection is discarded', async () => {
    let pid = 0;
    const started = Date.now();
    const err = await inTransaction(
      pool,
      async (client) => {
        pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        return client.query(bounded('SELECT pg_sleep(3)', [], 300));
      },
      undefined,
      300,
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    const tookMs = Date.now() - started;

    expect(isQueryTimeout(err)).toBe(true);
    // Well under the 3 s statement: neither the statement nor a ROLLBACK queued behind it was awaited.
    expect(tookMs).toBeLessThan(2_500);
    const next = await inTransaction(pool, (client) => client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'));
    expect(next.rows[0]!.pid).not.toBe(pid);
  });
});
