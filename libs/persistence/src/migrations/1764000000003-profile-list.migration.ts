import { MigrationInterface, QueryRunner } from 'typeorm';
import { CreateProfileTag1764000000000 } from './1764000000000-create-profile-tag.migration';

/**
 * Profiles: one row per (cookie, action) holding its bounded list as text (profile-list.codec.ts:
 * a line per tag, `<time_ms> <digest hex> <json>`), in place of one row per tag (profile_tag).
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
 * - fillfactor 50: a popular cookie's row is updated many times a second. With room on its page the
 *   update is HOT (no new index entry; the key never changes); on full pages every update added an
 *   index entry for the same key, and reads and writes of that key waded through the dead ones:
 *   PostgreSQL CPU per appended tag 330-470 us at the default against 32 us at 50 (bench/RESULTS.md).
 * - version: bumped by every write. A writer stores its merge only if the row still holds the
 *   version it read (compare-and-set), so two writers of one list (a partition moving between
 *   pipeline processes) never lose each other's tags: the loser reads again and merges again.
 * - The existing tags move over in SQL into the bodies, the newest PROFILE_CAPACITY per list in the
 *   codec's layout, and profile_tag is dropped.
 * - 200 is PROFILE_CAPACITY, written out: a migration is frozen once shipped, and its SQL is text
 *   built from constants only (test/reliability/sql-text.spec.ts).
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
        head    text   NOT NULL,
        body    text,
        CONSTRAINT profile_list_pkey PRIMARY KEY (cookie, action)
      ) WITH (fillfactor = 50)`);
    // lz4 where the server has it (Debian's PostgreSQL does; PGlite does not): about half the CPU of
    // the default pglz when a popular cookie's body is folded and read (bench/RESULTS.md).
    await queryRunner.query(`
      DO $$ BEGIN
        ALTER TABLE profile_list ALTER COLUMN head SET COMPRESSION lz4, ALTER COLUMN body SET COMPRESSION lz4;
      EXCEPTION WHEN feature_not_supported THEN NULL;
      END $$`);
    await queryRunner.query(`
      INSERT INTO profile_list (cookie, action, version, head, body)
      SELECT cookie, action, 1, '',
             string_agg(time_ms::text || ' ' || encode(digest, 'hex') || ' ' || tag || E'\\n', ''
                        ORDER BY time_ms DESC, digest DESC)
      FROM (SELECT *, row_number() OVER (PARTITION BY cookie, action ORDER BY time_ms DESC, digest DESC) AS n
            FROM profile_tag) t
      WHERE n <= 200
      GROUP BY cookie, action`);
    await queryRunner.query('DROP TABLE profile_tag');
    // Line = <time> <16 hex digits> <json>: the JSON starts after the time's length + 18 characters.
    await queryRunner.query(`
      CREATE VIEW profile_entry AS
      SELECT cookie, action, time_ms, digest, tag FROM (
        SELECT *, row_number() OVER (PARTITION BY cookie, action ORDER BY time_ms DESC, digest DESC) AS n
        FROM (
          SELECT DISTINCT p.cookie, p.action, split_part(line, ' ', 1)::bigint AS time_ms,
                 decode(split_part(line, ' ', 2), 'hex') AS digest,
                 substr(line, length(split_part(line, ' ', 1)) + 19) AS tag
          FROM profile_list p
          CROSS JOIN LATERAL (VALUES (p.head), (p.body)) AS part(list)
          CROSS JOIN LATERAL unnest(string_to_array(rtrim(part.list, E'\\n'), E'\\n')) AS line
          WHERE part.list <> ''
        ) e
      ) r
      WHERE n <= 200`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await new CreateProfileTag1764000000000().up(queryRunner);
    await queryRunner.query(
      'INSERT INTO profile_tag (cookie, action, time_ms, digest, tag) SELECT cookie, action, time_ms, digest, tag FROM profile_entry',
    );
    await queryRunner.query('DROP VIEW profile_entry');
    await queryRunner.query('DROP TABLE profile_list');
  }
}
