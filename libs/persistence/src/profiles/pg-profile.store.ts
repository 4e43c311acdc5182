import { PROFILE_CAPACITY, Profile, ProfileStore, TimeRange, UserTag, userTagEventTime } from '@lib/domain';
import { Pool, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { keyText } from '../key-text';
import { isEmbedded } from '../connection/data-source.factory';
import { hotQuery, poolOf } from '../connection/sql-pool';
import { canonicalTagJson, tagDigestHex } from './tag-identity';

/** Rows per INSERT: bounds one statement's parameter size. */
const INSERT_CHUNK = 5_000;

const INSERT_SQL = `
  INSERT INTO profile_tag (cookie, action, time_ms, digest, tag)
  SELECT cookie, action, time_ms, decode(digest, 'hex'), tag
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) AS t(cookie, action, time_ms, digest, tag)
  ON CONFLICT DO NOTHING`;

/**
 * For each touched (cookie, action): find the `capacity`-th newest row (one backward scan of the
 * primary key, at most `capacity` entries) and delete everything older (one range of the same key).
 * Lists with fewer rows have no such row and lose nothing.
 */
const TRIM_SQL = `
  DELETE FROM profile_tag p
  USING (
    SELECT k.cookie, k.action, edge.time_ms, edge.digest
    FROM unnest($1::text[], $2::text[]) AS k(cookie, action)
    CROSS JOIN LATERAL (
      SELECT q.time_ms, q.digest FROM profile_tag q
      WHERE q.cookie = k.cookie AND q.action = k.action
      ORDER BY q.time_ms DESC, q.digest DESC
      OFFSET $3 LIMIT 1
    ) edge
  ) e
  WHERE p.cookie = e.cookie AND p.action = e.action AND (p.time_ms, p.digest) < (e.time_ms, e.digest)`;

/**
 * Both actions in one round trip. Each list: the range first, newest first, then the limit (the
 * inner LIMIT), read as one backward range scan of the primary key. The stored JSON texts are
 * joined into one JSON array text per list, in an explicit order, so the client parses once per list.
 */
const READ_SQL = `
  SELECT
    (SELECT '[' || coalesce(string_agg(s.tag, ',' ORDER BY s.time_ms DESC, s.digest DESC), '') || ']'
     FROM (SELECT tag, time_ms, digest FROM profile_tag
           WHERE cookie = $1 AND action = 'VIEW' AND time_ms >= $2 AND time_ms < $3
           ORDER BY time_ms DESC, digest DESC LIMIT $4) s) AS views,
    (SELECT '[' || coalesce(string_agg(s.tag, ',' ORDER BY s.time_ms DESC, s.digest DESC), '') || ']'
     FROM (SELECT tag, time_ms, digest FROM profile_tag
           WHERE cookie = $1 AND action = 'BUY' AND time_ms >= $2 AND time_ms < $3
           ORDER BY time_ms DESC, digest DESC LIMIT $4) s) AS buys`;

interface Row {
  readonly cookie: string;
  readonly action: string;
  readonly timeMs: number;
  readonly digest: string;
  readonly json: string;
}

function compareRows(a: Row, b: Row): number {
  if (a.cookie !== b.cookie) return a.cookie < b.cookie ? -1 : 1;
  if (a.action !== b.action) return a.action < b.action ? -1 : 1;
  if (a.timeMs !== b.timeMs) return a.timeMs - b.timeMs;
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

/**
 * ProfileStore on PostgreSQL (and the embedded PGlite): table profile_tag, see its migration.
 *
 * `append` is a few statements whatever the batch size: insert all rows (a duplicate tag hits the
 * primary key and is skipped), then trim every touched (cookie, action) to the newest `capacity`.
 * Each statement commits on its own, with no transaction around them: one round trip each, which
 * matters on the embedded PGlite, where every app of the process waits for the one connection
 * while a transaction holds it. A failure between them leaves inserted rows untrimmed or a later
 * chunk missing, both of which the retry of the same append repairs (inserts are idempotent), as
 * the port requires. Rows are inserted in key order so concurrent appends lock in one order.
 * Concurrent appends to one cookie may each leave a few rows over capacity (each trims what it
 * sees); never fewer than `capacity` of the newest.
 */
export class PgProfileStore extends ProfileStore {
  private readonly pool: Pool;
  private readonly readQuery: (values: unknown[]) => QueryConfig;

  constructor(
    dataSource: DataSource,
    private readonly capacity: number = PROFILE_CAPACITY,
  ) {
    super();
    this.pool = poolOf(dataSource);
    this.readQuery = hotQuery('profile_read', READ_SQL, !isEmbedded(dataSource));
  }

  async append(tags: readonly UserTag[]): Promise<void> {
    if (tags.length === 0) return;
    const rows = tags.map((tag): Row => {
      const json = canonicalTagJson(tag);
      return {
        cookie: keyText(tag.cookie),
        action: tag.action,
        timeMs: userTagEventTime(tag),
        digest: tagDigestHex(json),
        json,
      };
    });
    rows.sort(compareRows);
    const lists = distinctLists(rows);
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      await this.pool.query(INSERT_SQL, [
        chunk.map((r) => r.cookie),
        chunk.map((r) => r.action),
        chunk.map((r) => r.timeMs),
        chunk.map((r) => r.digest),
        chunk.map((r) => r.json),
      ]);
    }
    await this.pool.query(TRIM_SQL, [lists.cookies, lists.actions, this.capacity - 1]);
  }

  async read(cookie: string, range: TimeRange, limit: number): Promise<Profile> {
    if (limit <= 0 || range.fromMs >= range.toMs) return { views: [], buys: [] };
    const { rows } = await this.pool.query<{ views: string; buys: string }>(
      this.readQuery([keyText(cookie), range.fromMs, range.toMs, Math.floor(limit)]),
    );
    return { views: JSON.parse(rows[0].views) as UserTag[], buys: JSON.parse(rows[0].buys) as UserTag[] };
  }
}

/** The (cookie, action) lists of sorted rows, each once. */
function distinctLists(sorted: readonly Row[]): { cookies: string[]; actions: string[] } {
  const cookies: string[] = [];
  const actions: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i];
    if (i > 0 && sorted[i - 1].cookie === r.cookie && sorted[i - 1].action === r.action) continue;
    cookies.push(r.cookie);
    actions.push(r.action);
  }
  return { cookies, actions };
}
