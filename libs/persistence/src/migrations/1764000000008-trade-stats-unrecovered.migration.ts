import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A window's unrecovered trades (TradeStats.unrecovered_trades): trades the source skipped that no back-fill
 * recovered, as of the stored revision. Rows stored before read as 0: nothing was reported lost then.
 */
export class TradeStatsUnrecovered1764000000008 implements MigrationInterface {
  name = 'TradeStatsUnrecovered1764000000008';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE trade_stats_window ADD COLUMN unrecovered_trades integer NOT NULL DEFAULT 0 CHECK (unrecovered_trades >= 0)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE trade_stats_window DROP COLUMN unrecovered_trades');
  }
}
