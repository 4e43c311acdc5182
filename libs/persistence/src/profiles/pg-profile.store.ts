import {
  canonicalTagJson,
  PROFILE_CAPACITY,
  Profile,
  ProfileJson,
  ProfileStore,
  TimeRange,
  UserTag,
  userTagEventTime,
} from '@lib/domain';
import { Pool, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { keyText } from '../key-text';
import { isEmbedded, sqlTimeoutsOf } from '../connection/data-source.factory';
import { bounded, hotQuery, poolOf } from '../connection/sql-pool';
import {
  ListEntry,
  encodeEntry,
  entriesOf,
  mergeList,
  rangeJson,
  rangeJsonOfParts,
  sortedDistinct,
  strictlyNewer,
} from './profile-list.codec';
import { tagDigestHex } from './tag-identity';

/**
 * Length of a list's head (in characters: bytes, for the usual ASCII JSON) past which an append folds
 * the head into the body. A hot cookie's head is rewritten with each batch and its body (up to 200
 * tags, ~50 kB, TOASTed) once per this much new text: about 16 tags of the loadgen's, near the
 * optimum of sqrt(2 x body / tag size).
 */
export const HEAD_MAX_BYTES = 4_096;
/** Cookies per read of stored lists: bounds one statement's parameter and answer. */
const READ_CHUNK = 2_000;
/** Characters of lists per write statement: a batch of large lists is written in several statements. */
const WRITE_CHUNK_CHARS = 8 * 2 ** 20;
/**
 * Rounds of read, merge, compare-and-set before an append gives up (and is retried by its caller).
 * A round loses a list only to another writer of the same list, which happens while a partition
 * moves between pipeline processes; a handful of rounds is plenty.
 */
const MAX_ROUNDS = 10;

const READ_HEADS_SQL = 'SELECT cookie, action, version, head FROM profile_list WHERE cookie = ANY($1::text[])';

const READ_BODIES_SQL = `
  SELECT p.cookie, p.action, p.body FROM profile_list p
  JOIN unnest($1::text[], $2::text[]) AS t(cookie, action) ON p.cookie = t.cookie AND p.action = t.action`;

/**
 * Compare-and-set of lists: a row is written only if it still holds the version the merge read
 * (version - 1; none read means version 1, and an existing row then fails the check). RETURNING
 * names the lists written; the others lost a race and are merged again. A NULL body keeps the stored
 * one: PostgreSQL then keeps its TOAST pointer and does not rewrite it (one head update writes ~200
 * bytes of WAL whatever the body's size). Lists go in key order, so concurrent writers lock shared
 * rows in one order. The texts travel as ONE binary parameter (their UTF-8 bytes; pg sends a Buffer
 * as binary) cut by byte offsets, not as a text array (an array literal: every quote of the JSON
 * escaped, then parsed).
 */
const WRITE_SQL = `
  INSERT INTO profile_list AS p (cookie, action, version, head, body)
  SELECT t.cookie, t.action, t.version, convert_from(substring($8::bytea from t.head_at + 1 for t.head_len), 'UTF8'),
         CASE WHEN t.body_len >= 0 THEN convert_from(substring($8::bytea from t.body_at + 1 for t.body_len), 'UTF8') END
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::int[], $6::int[], $7::int[])
    AS t(cookie, action, version, head_at, head_len, body_at, body_len)
  ORDER BY t.cookie, t.action
  ON CONFLICT (cookie, action) DO UPDATE
    SET version = excluded.version, head = excluded.head, body = coalesce(excluded.body, p.body), written_at = now()
    WHERE p.version = excluded.version - 1
  RETURNING p.cookie, p.action`;

const READ_SQL = 'SELECT action, head, body FROM profile_list WHERE cookie = $1';

/** Profile retention: lists not written since $1, in one pass over the table. */
const DELETE_IDLE_SQL = 'DELETE FROM profile_list WHERE written_at < $1';

/** A (cookie, action) list of the batch being appended. */
interface Pending {
  readonly cookie: string;
  readonly action: string;
  /** The batch's tags of this list, newest first, distinct. */
  readonly added: ListEntry[];
}

interface Write {
  readonly list: Pending;
  readonly version: number;
  readonly head: string;
  /** A new body, or undefined to keep the stored one. */
  readonly body: string | undefined;
}

const listKey = (action: string, cookie: string): string => `${action}:${cookie}`;

/**
 * ProfileStore on PostgreSQL (and the embedded PGlite): table profile_list, one row per (cookie,
 * action); see its migration. A list is a small `head` of recent appends and a `body` of up to
 * `capacity` tags, both in the layout of profile-list.codec.ts; the list a reader sees is the newest
 * `capacity` distinct tags of the two together.
 *
 * `append` groups the batch by list, reads the touched heads (one statement per 2,000 cookies), merges
 * the new tags into them in memory (stored bytes are copied, never parsed) and writes each changed
 * list once, by compare-and-set; lists that lost a race are read and merged again. A head that grows
 * past HEAD_MAX_BYTES is folded into its body (read for those lists only) and emptied: a popular
 * cookie does not rewrite its whole history with every batch. Statements commit on their own (no
 * transaction: one round trip each on PGlite's single connection): a failure part way leaves some
 * lists written and others not, which a retry of the same append completes, since a tag merged twice
 * is still one tag. A tag already in the body may come back in the head after a replay; readers and
 * the next fold drop the repeat.
 */
export class PgProfileStore extends ProfileStore {
  private readonly pool: Pool;
  private readonly readQuery: (values: unknown[]) => QueryConfig;
  private readonly readHeadsQuery: (values: unknown[]) => QueryConfig;
  private readonly readBodiesQuery: (values: unknown[]) => QueryConfig;
  private readonly writeQuery: (values: unknown[]) => QueryConfig;
  private readonly writeTimeoutMs: number | undefined;

  constructor(
    dataSource: DataSource,
    private readonly capacity: number = PROFILE_CAPACITY,
  ) {
    super();
    this.pool = poolOf(dataSource);
    const named = !isEmbedded(dataSource);
    const { readMs, writeMs } = sqlTimeoutsOf(dataSource);
    this.writeTimeoutMs = writeMs;
    this.readQuery = hotQuery('profile_read', READ_SQL, named, readMs);
    // The pipeline's merge reads belong to its writes, and share their bound.
    this.readHeadsQuery = hotQuery('profile_read_heads', READ_HEADS_SQL, named, writeMs);
    this.readBodiesQuery = hotQuery('profile_read_bodies', READ_BODIES_SQL, named, writeMs);
    this.writeQuery = hotQuery('profile_write', WRITE_SQL, named, writeMs);
  }

  async append(tags: readonly UserTag[]): Promise<void> {
    if (tags.length === 0) return;
    let pending = groupByList(tags);
    for (let round = 1; pending.length > 0; round++) {
      if (round > MAX_ROUNDS) {
        throw new Error(`profile append: ${pending.length} lists still contended after ${MAX_ROUNDS} rounds`);
      }
      pending = await this.write(await this.merge(pending));
    }
  }

  async read(cookie: string, range: TimeRange, limit: number): Promise<Profile> {
    const json = await this.readJson(cookie, range, limit);
    return { views: JSON.parse(json.views) as UserTag[], buys: JSON.parse(json.buys) as UserTag[] };
  }

  /** The stored JSON texts joined: nothing is parsed or serialised again. */
  override async readJson(cookie: string, range: TimeRange, limit: number): Promise<ProfileJson> {
    const answer = { views: '[]', buys: '[]' };
    if (limit <= 0 || range.fromMs >= range.toMs) return answer;
    const { rows } = await this.pool.query<{ action: string; head: string; body: string | null }>(
      this.readQuery([keyText(cookie)]),
    );
    for (const r of rows) {
      const body = r.body ?? undefined;
      const head = r.head || undefined;
      // Usually the head holds only tags newer than the body's: read one after the other, as far as
      // needed. A late tag or a replay in the head needs the merge.
      const json = strictlyNewer(head, body)
        ? rangeJsonOfParts([head, body], range.fromMs, range.toMs, Math.floor(limit), this.capacity)
        : rangeJson(
            mergeList(body, entriesOf(head), this.capacity) ?? body,
            range.fromMs,
            range.toMs,
            Math.floor(limit),
          );
      if (r.action === 'VIEW') answer.views = json;
      else answer.buys = json;
    }
    return answer;
  }

  /**
   * Deletes the lists not written since `notWrittenSinceMs`. A cookie written again while this runs
   * keeps (or starts) its list: the delete skips a row whose written_at moved, and a list deleted just
   * before a write starts again from that write.
   */
  async deleteIdle(notWrittenSinceMs: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      bounded(DELETE_IDLE_SQL, [new Date(notWrittenSinceMs)], this.writeTimeoutMs),
    );
    return rowCount ?? 0;
  }

  /** Reads the stored heads, merges the batch into them and folds full heads into their bodies. */
  private async merge(pending: readonly Pending[]): Promise<Write[]> {
    const cookies = [...new Set(pending.map((p) => p.cookie))];
    const heads = new Map<string, { version: string; head: string }>();
    for (let i = 0; i < cookies.length; i += READ_CHUNK) {
      const { rows } = await this.pool.query<{ cookie: string; action: string; version: string; head: string }>(
        this.readHeadsQuery([cookies.slice(i, i + READ_CHUNK)]),
      );
      for (const r of rows) heads.set(listKey(r.action, r.cookie), r);
    }
    const writes: Write[] = [];
    const folds: { list: Pending; version: number; head: string }[] = [];
    for (const list of pending) {
      const stored = heads.get(listKey(list.action, list.cookie));
      const version = (stored ? Number(stored.version) : 0) + 1;
      const head = mergeList(stored?.head, list.added, this.capacity);
      if (!head) continue;
      if (head.length > HEAD_MAX_BYTES) folds.push({ list, version, head });
      else writes.push({ list, version, head, body: undefined });
    }
    if (folds.length > 0) {
      const bodies = new Map<string, string | null>();
      for (let i = 0; i < folds.length; i += READ_CHUNK) {
        const chunk = folds.slice(i, i + READ_CHUNK);
        const { rows } = await this.pool.query<{ cookie: string; action: string; body: string | null }>(
          this.readBodiesQuery([chunk.map((f) => f.list.cookie), chunk.map((f) => f.list.action)]),
        );
        for (const r of rows) bodies.set(listKey(r.action, r.cookie), r.body);
      }
      for (const f of folds) {
        const body = bodies.get(listKey(f.list.action, f.list.cookie)) ?? undefined;
        // Unchanged (every head tag already in the body, or too old for it): keep the body, empty the head.
        writes.push({ ...f, head: '', body: mergeList(body, entriesOf(f.head), this.capacity) });
      }
    }
    return writes;
  }

  /** Writes the merged lists; answers those that another writer changed first. */
  private async write(writes: readonly Write[]): Promise<Pending[]> {
    const lost: Pending[] = [];
    for (let i = 0; i < writes.length;) {
      const chunk: Write[] = [];
      let chars = 0;
      for (let j = i; j < writes.length && (chunk.length === 0 || chars <= WRITE_CHUNK_CHARS); j++) {
        chunk.push(writes[j]);
        chars += writes[j].head.length + (writes[j].body?.length ?? 0);
      }
      i += chunk.length;
      // The texts straight into one buffer (UTF-8 takes at most 3 bytes per UTF-16 unit), no joined copy.
      const bytes = Buffer.allocUnsafe(3 * chars);
      let at = 0;
      const headAt: number[] = [];
      const headLen: number[] = [];
      const bodyAt: number[] = [];
      const bodyLen: number[] = [];
      for (const w of chunk) {
        const n = bytes.write(w.head, at);
        headAt.push(at);
        headLen.push(n);
        at += n;
        if (w.body === undefined) {
          bodyAt.push(0);
          bodyLen.push(-1);
        } else {
          const m = bytes.write(w.body, at);
          bodyAt.push(at);
          bodyLen.push(m);
          at += m;
        }
      }
      const { rows } = await this.pool.query<{ cookie: string; action: string }>(
        this.writeQuery([
          chunk.map((w) => w.list.cookie),
          chunk.map((w) => w.list.action),
          chunk.map((w) => w.version),
          headAt,
          headLen,
          bodyAt,
          bodyLen,
          bytes.subarray(0, at),
        ]),
      );
      if (rows.length === chunk.length) continue;
      const written = new Set(rows.map((r) => listKey(r.action, r.cookie)));
      for (const w of chunk) if (!written.has(listKey(w.list.action, w.list.cookie))) lost.push(w.list);
    }
    return lost;
  }
}

/** The batch's tags per (cookie, action) list, each list newest first and distinct. */
function groupByList(tags: readonly UserTag[]): Pending[] {
  const lists = new Map<string, { cookie: string; action: string; entries: ListEntry[] }>();
  for (const tag of tags) {
    const cookie = keyText(tag.cookie);
    const key = listKey(tag.action, cookie);
    let list = lists.get(key);
    if (!list) {
      list = { cookie, action: tag.action, entries: [] };
      lists.set(key, list);
    }
    const json = canonicalTagJson(tag);
    list.entries.push(encodeEntry(userTagEventTime(tag), tagDigestHex(json), json));
  }
  return [...lists.values()].map((l) => ({ cookie: l.cookie, action: l.action, added: sortedDistinct(l.entries) }));
}
