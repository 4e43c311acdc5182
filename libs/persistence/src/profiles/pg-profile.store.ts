import { PROFILE_CAPACITY, Profile, ProfileStore, TimeRange, UserTag, userTagEventTime } from '@lib/domain';
import { Pool, QueryConfig } from 'pg';
import { DataSource } from 'typeorm';
import { keyText } from '../key-text';
import { isEmbedded } from '../connection/data-source.factory';
import { hotQuery, poolOf } from '../connection/sql-pool';
import { ListEntry, encodeEntry, mergeList, rangeJson, sortedDistinct } from './profile-list.codec';
import { canonicalTagJson, tagDigest } from './tag-identity';

/** Cookies per read of stored lists: bounds one statement's parameter and answer. */
const READ_CHUNK = 2_000;
/** Bytes of lists per write statement: a batch of full lists is written in several statements. */
const WRITE_CHUNK_BYTES = 8 * 2 ** 20;
/**
 * Rounds of read, merge, compare-and-set before an append gives up (and is retried by its caller).
 * A round loses a list only to another writer of the same list, which happens while a partition
 * moves between pipeline processes; a handful of rounds is plenty.
 */
const MAX_ROUNDS = 10;

const READ_LISTS_SQL = 'SELECT cookie, action, version, tags FROM profile_list WHERE cookie = ANY($1::text[])';

/**
 * Compare-and-set of whole lists: a row is written only if it still holds the version the merge read
 * (version - 1; none read means version 1, and an existing row then fails the check). RETURNING
 * names the lists written; the others lost a race and are merged again. Lists go in key order, so
 * concurrent writers lock shared rows in one order. The lists travel as ONE binary parameter (pg sends
 * a Buffer as binary) cut by offsets, not as a bytea array (text, hex-escaped: twice the bytes).
 */
const WRITE_LISTS_SQL = `
  INSERT INTO profile_list AS p (cookie, action, version, tags)
  SELECT t.cookie, t.action, t.version, substring($6::bytea from t.start + 1 for t.len)
  FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::int[]) AS t(cookie, action, version, start, len)
  ORDER BY t.cookie, t.action
  ON CONFLICT (cookie, action) DO UPDATE SET version = excluded.version, tags = excluded.tags
    WHERE p.version = excluded.version - 1
  RETURNING p.cookie, p.action`;

const READ_SQL = 'SELECT action, tags FROM profile_list WHERE cookie = $1';

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
  readonly tags: Buffer;
}

const listKey = (action: string, cookie: string): string => `${action}:${cookie}`;

/**
 * ProfileStore on PostgreSQL (and the embedded PGlite): table profile_list, one row per (cookie,
 * action) holding its newest `capacity` tags (profile-list.codec.ts); see its migration.
 *
 * `append` groups the batch by list, reads the touched lists (one statement per 2,000 cookies),
 * merges in memory (stored bytes are copied, not parsed) and writes each changed list once, by
 * compare-and-set; lists that lost a race are read and merged again. Statements are idempotent and
 * commit on their own (no transaction: one round trip each on PGlite's single connection): a failure
 * part way leaves some lists written and others not, which a retry of the same append completes,
 * since merging a tag already stored changes nothing. A replayed batch writes nothing at all.
 */
export class PgProfileStore extends ProfileStore {
  private readonly pool: Pool;
  private readonly readQuery: (values: unknown[]) => QueryConfig;
  private readonly readListsQuery: (values: unknown[]) => QueryConfig;
  private readonly writeListsQuery: (values: unknown[]) => QueryConfig;

  constructor(
    dataSource: DataSource,
    private readonly capacity: number = PROFILE_CAPACITY,
  ) {
    super();
    this.pool = poolOf(dataSource);
    const named = !isEmbedded(dataSource);
    this.readQuery = hotQuery('profile_read', READ_SQL, named);
    this.readListsQuery = hotQuery('profile_read_lists', READ_LISTS_SQL, named);
    this.writeListsQuery = hotQuery('profile_write_lists', WRITE_LISTS_SQL, named);
  }

  async append(tags: readonly UserTag[]): Promise<void> {
    if (tags.length === 0) return;
    let pending = groupByList(tags);
    for (let round = 1; pending.length > 0; round++) {
      if (round > MAX_ROUNDS) {
        throw new Error(`profile append: ${pending.length} lists still contended after ${MAX_ROUNDS} rounds`);
      }
      const writes = await this.merge(pending);
      pending = await this.write(writes);
    }
  }

  async read(cookie: string, range: TimeRange, limit: number): Promise<Profile> {
    if (limit <= 0 || range.fromMs >= range.toMs) return { views: [], buys: [] };
    const { rows } = await this.pool.query<{ action: string; tags: Buffer }>(this.readQuery([keyText(cookie)]));
    let views = '[]';
    let buys = '[]';
    for (const r of rows) {
      const json = rangeJson(r.tags, range.fromMs, range.toMs, Math.floor(limit));
      if (r.action === 'VIEW') views = json;
      else buys = json;
    }
    return { views: JSON.parse(views) as UserTag[], buys: JSON.parse(buys) as UserTag[] };
  }

  /** Reads the stored lists and merges the batch into them; lists that would not change are left out. */
  private async merge(pending: readonly Pending[]): Promise<Write[]> {
    const writes: Write[] = [];
    const cookies = [...new Set(pending.map((p) => p.cookie))];
    const stored = new Map<string, { version: number; tags: Buffer }>();
    for (let i = 0; i < cookies.length; i += READ_CHUNK) {
      const { rows } = await this.pool.query<{ cookie: string; action: string; version: string; tags: Buffer }>(
        this.readListsQuery([cookies.slice(i, i + READ_CHUNK)]),
      );
      for (const r of rows) stored.set(listKey(r.action, r.cookie), { version: Number(r.version), tags: r.tags });
    }
    for (const list of pending) {
      const before = stored.get(listKey(list.action, list.cookie));
      const tags = mergeList(before?.tags, list.added, this.capacity);
      if (tags) writes.push({ list, version: (before?.version ?? 0) + 1, tags });
    }
    return writes;
  }

  /** Writes the merged lists; answers those that another writer changed first. */
  private async write(writes: readonly Write[]): Promise<Pending[]> {
    const lost: Pending[] = [];
    for (let i = 0; i < writes.length;) {
      const chunk: Write[] = [];
      let bytes = 0;
      while (i < writes.length && (chunk.length === 0 || bytes + writes[i].tags.length <= WRITE_CHUNK_BYTES)) {
        bytes += writes[i].tags.length;
        chunk.push(writes[i++]);
      }
      const starts: number[] = [];
      let at = 0;
      for (const w of chunk) {
        starts.push(at);
        at += w.tags.length;
      }
      const { rows } = await this.pool.query<{ cookie: string; action: string }>(
        this.writeListsQuery([
          chunk.map((w) => w.list.cookie),
          chunk.map((w) => w.list.action),
          chunk.map((w) => w.version),
          starts,
          chunk.map((w) => w.tags.length),
          Buffer.concat(
            chunk.map((w) => w.tags),
            bytes,
          ),
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
    list.entries.push(encodeEntry(userTagEventTime(tag), tagDigest(json), json));
  }
  return [...lists.values()].map((l) => ({ cookie: l.cookie, action: l.action, added: sortedDistinct(l.entries) }));
}
