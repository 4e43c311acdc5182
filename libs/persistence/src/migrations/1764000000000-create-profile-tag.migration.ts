import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Profiles: one row per stored tag.
 *
 * - Key (cookie, action, time_ms, digest): digest is 8 bytes of SHA-256 over the tag's canonical
 *   content (tag-identity.ts), so the same tag appended twice is one row, while two different tags
 *   with the same time are two rows. Ties in time_ms come back in digest order: fixed, as the port
 *   requires.
 * - The primary key serves the read: equality on (cookie, action), a range on time_ms, scanned
 *   backward for newest first, stopping after `limit` rows. It also finds the 200th newest row that
 *   trimming keeps.
 * - tag is the JSON text of the tag as received: `time` keeps its text and product_id its JSON type.
 *   It is `text`, not `json`: nothing queries inside it, and json input would reject some strings
 *   a client can send (a lone surrogate, which JSON.stringify writes as a \u escape).
 * - COLLATE "C": byte-wise comparison of cookies is faster than a locale's and identical everywhere.
 */
export class CreateProfileTag1764000000000 implements MigrationInterface {
  name = 'CreateProfileTag1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE profile_tag (
        cookie  text COLLATE "C" NOT NULL,
        action  text COLLATE "C" NOT NULL CHECK (action IN ('VIEW', 'BUY')),
        time_ms bigint NOT NULL,
        digest  bytea  NOT NULL CHECK (octet_length(digest) = 8),
        tag     text   NOT NULL,
        CONSTRAINT profile_tag_pkey PRIMARY KEY (cookie, action, time_ms, digest)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE profile_tag');
  }
}
