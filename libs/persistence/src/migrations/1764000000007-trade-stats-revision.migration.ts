import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A window's revision (TradeStats.revision): agg-producer publishes a window again, under the same key and
 * with the next revision, when a trade comes after it was published. Rows stored before read as revision 0,
 * which is what they were.
 */
export class TradeStatsRevision1764000000007 implements MigrationInterface {
  name = 'TradeStatsRevision1764000000007';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE trade_stats_window ADD COLUMN revision integer NOT NULL DEFAULT 0 CHECK (revision >= 0)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE trade_stats_window DROP COLUMN revision');
  }
}
