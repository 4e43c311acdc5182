/**
 * PostgreSQL's own account of a bench's work: pg_stat_statements (time and rows by statement) and
 * pg_stat_wal. The server must load the library (`STATEMENT_STATS_SETTINGS` at its start).
 */
import { Client } from 'pg';

export const STATEMENT_STATS_SETTINGS = { shared_preload_libraries: 'pg_stat_statements' } as const;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Creates the extension if needed and starts both counts from zero. */
export async function resetStatementStats(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, async (pg) => {
    await pg.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await pg.query('SELECT pg_stat_statements_reset()');
    await pg.query("SELECT pg_stat_reset_shared('wal')");
    await pg.query('SELECT pg_stat_reset()');
  });
}

/** The WAL written and the statements that took most of the server's time since the reset. */
export async function statementStatsLines(databaseUrl: string, top = 8): Promise<string[]> {
  return withClient(databaseUrl, async (pg) => {
    const wal = (
      await pg.query<{ records: string; fpi: string; bytes: string }>(
        'SELECT wal_records AS records, wal_fpi AS fpi, wal_bytes AS bytes FROM pg_stat_wal',
      )
    ).rows[0];
    const { rows } = await pg.query<{ query: string; calls: string; ms: number; rows: string }>(
      `SELECT query, calls, total_exec_time AS ms, rows FROM pg_stat_statements
       WHERE total_exec_time > 100 ORDER BY total_exec_time DESC LIMIT $1`,
      [top],
    );
    const tables = await pg.query<{ relname: string; ins: string; upd: string; hot: string; del: string }>(
      `SELECT relname, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del
       FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY n_tup_ins + n_tup_upd DESC LIMIT 4`,
    );
    return [
      ...tables.rows.map(
        (t) =>
          `${t.relname}: ${int(Number(t.ins))} rows inserted, ${int(Number(t.upd))} updated (${int(Number(t.hot))} HOT), ${int(Number(t.del))} deleted`,
      ),
      `WAL: ${int(Number(wal.records))} records, ${int(Number(wal.fpi))} full-page images, ${int(Number(wal.bytes) / 2 ** 20)} MiB`,
      'PostgreSQL time by statement (execution ms, calls, rows):',
      ...rows.map(
        (r) =>
          `${int(r.ms).padStart(8)} ms ${int(Number(r.calls)).padStart(8)} calls ${int(Number(r.rows)).padStart(10)} rows  ${r.query.replace(/\s+/g, ' ').trim().slice(0, 90)}`,
      ),
    ];
  });
}

async function withClient<T>(databaseUrl: string, fn: (pg: Client) => Promise<T>): Promise<T> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    return await fn(pg);
  } finally {
    await pg.end();
  }
}
