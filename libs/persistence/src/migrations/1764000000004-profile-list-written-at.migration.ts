import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * When each (cookie, action) list was last written, for optional profile retention
 * (PROFILE_RETENTION_DAYS: PgProfileStore.deleteIdle). Existing lists count as written now. The
 * column has no index on purpose: an index on a column every write changes would turn the lists'
 * in-place (HOT) updates into index writes; the retention delete scans the table once an hour instead.
 * Adding a column whose default is evaluated once (now() is stable) rewrites nothing.
 */
export class ProfileListWrittenAt1764000000004 implements MigrationInterface {
  name = 'ProfileListWrittenAt1764000000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE profile_list ADD COLUMN written_at timestamptz NOT NULL DEFAULT now()');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE profile_list DROP COLUMN written_at');
  }
}
