import { PROFILE_CAPACITY } from '@lib/domain';
import { MigrationInterface, QueryRunner } from 'typeorm';

/** The length of the entry at byte `pos` (0-based) of `tags`, and its time, in SQL. */
const LENGTH_AT = (pos: string): string =>
  `('x' || encode(substring(tags from ${pos} + 17 for 4), 'hex'))::bit(32)::int`;
const TIME_AT = (pos: string): string =>
  `('x' || encode(substring(tags from ${pos} + 1 for 8), 'hex'))::bit(64)::bigint`;

/**
 * Profiles: one row per (cookie, action) holding its bounded list (profile-list.codec.ts), in place
 * of one row per tag (profile_tag).
 *
 * Why: with a row per tag, every appended tag cost an index insert plus a trim that scanned up to
 * 200 index entries of its list, and a read of a popular cookie read 200 rows; PostgreSQL spent more
 * CPU on profiles than on anything else. Now an append reads the batch's lists in one statement,
 * merges them in the pipeline and writes each touched list once; a read fetches at most two rows.
 *
 * - head: the recent appends, small (pg-profile.store.ts HEAD_MAX_BYTES); rewritten by each append
 *   that touches the list. body: up to PROFILE_CAPACITY tags, rewritten only when a full head is
 *   folded into it; NULL when empty. An append that leaves the body alone keeps its TOAST value
 *   untouched, so a popular cookie does not rewrite ~50 kB of history per batch. The list is the
 *   newest PROFILE_CAPACITY distinct tags of head and body together.
 * - version: bumped by every write. A writer stores its merge only if the row still holds the
 *   version it read (compare-and-set), so two writers of one list (a partition moving between
 *   pipeline processes) never lose each other's tags: the loser reads again and merges again.
 * - The existing tags move over in SQL into the bodies, the newest PROFILE_CAPACITY per list in the
 *   codec's layout (int8send, the 8-byte digest, int4send of the JSON length, the JSON), and
 *   profile_tag is dropped.
 * - profile_entry: a view of the lists as a reader sees them, one row per tag (cookie, action,
 *   time_ms, digest, tag), decoded in SQL; for operators, tests and `down`. Not on any hot path.
 */
export class ProfileList1764000000003 implements MigrationInterface {
  name = 'ProfileList1764000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE profile_list (
        cookie  text COLLATE "C" NOT NULL,
        action  text COLLATE "C" NOT NULL CHECK (action IN ('VIEW', 'BUY')),
        version bigint NOT NULL,
        head    bytea  NOT NULL,
        body    bytea,
        CONSTRAINT profile_list_pkey PRIMARY KEY (cookie, action)
      )`);
    // lz4 where the server has it (Debian's PostgreSQL does; PGlite does not): about half the CPU of
    // the default pglz when a popular cookie's body is folded and read (bench/RESULTS.md).
    await queryRunner.query(`
      DO $$ BEGIN
        ALTER TABLE profile_list ALTER COLUMN head SET COMPRESSION lz4, ALTER COLUMN body SET COMPRESSION lz4;
      EXCEPTION WHEN feature_not_supported THEN NULL;
      END $$`);
    await queryRunner.query(`
      INSERT INTO profile_list (cookie, action, version, head, body)
      SELECT cookie, action, 1, ''::bytea,
             string_agg(int8send(time_ms) || digest || int4send(octet_length(convert_to(tag, 'UTF8')))
                          || convert_to(tag, 'UTF8'), ''::bytea ORDER BY time_ms DESC, digest DESC)
      FROM (SELECT *, row_number() OVER (PARTITION BY cookie, action ORDER BY time_ms DESC, digest DESC) AS n
            FROM profile_tag) t
      WHERE n <= ${PROFILE_CAPACITY}
      GROUP BY cookie, action`);
    await queryRunner.query('DROP TABLE profile_tag');
    await queryRunner.query(`
      CREATE VIEW profile_entry AS
      WITH RECURSIVE walk (cookie, action, tags, pos) AS (
        SELECT p.cookie, p.action, part.tags, 0
        FROM profile_list p CROSS JOIN LATERAL (VALUES (p.head), (p.body)) AS part(tags)
        WHERE length(part.tags) > 0
        UNION ALL
        SELECT cookie, action, tags, pos + 20 + ${LENGTH_AT('pos')} FROM walk
        WHERE pos + 20 + ${LENGTH_AT('pos')} < length(tags)
      ), entry AS (
        SELECT DISTINCT cookie, action, ${TIME_AT('pos')} AS time_ms, substring(tags from pos + 9 for 8) AS digest,
               convert_from(substring(tags from pos + 21 for ${LENGTH_AT('pos')}), 'UTF8') AS tag
        FROM walk
      )
      SELECT cookie, action, time_ms, digest, tag FROM (
        SELECT *, row_number() OVER (PARTITION BY cookie, action ORDER BY time_ms DESC, digest DESC) AS n FROM entry
      ) e
      WHERE n <= ${PROFILE_CAPACITY}`);
  }
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE profile_tag (
        cookie  text COLLATE "C" NOT NULL,
        action  text COLLATE "C" NOT NULL CHECK (action IN ('VIEW', 'BUY')),
        time_ms bigint NOT NULL,
        digest  bytea  NOT NULL CHECK (octet_length(digest) = 8),
        tag     text   NOT NULL,
        CONSTRAINT profile_tag_pkey PRIMARY KEY (cookie, action, time_ms, digest)
      )`);
    await queryRunner.query(
      'INSERT INTO profile_tag (cookie, action, time_ms, digest, tag) SELECT cookie, action, time_ms, digest, tag FROM profile_entry',
    );
    await queryRunner.query('DROP VIEW profile_entry');
    await queryRunner.query('DROP TABLE profile_list');
  }
}
