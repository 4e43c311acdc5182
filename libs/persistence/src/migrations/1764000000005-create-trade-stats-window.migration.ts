import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The market read side's table (entity TradeStatsWindow): one row per instrument and window start.
 * The primary key serves every read: one instrument's windows by time (a range scan, newest first),
 * the newest window of each instrument (one descent per instrument), the list of instruments.
 */
export class CreateTradeStatsWindow1764000000005 implements MigrationInterface {
  name = 'CreateTradeStatsWindow1764000000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE trade_stats_window (
        instrument        text COLLATE "C" NOT NULL,
        window_start      bigint NOT NULL,
        window_end        bigint NOT NULL,
        count             integer NOT NULL CHECK (count >= 0),
        volume            double precision NOT NULL,
        vwap              double precision,
        open              double precision,
        high              double precision,
        low               double precision,
        close             double precision,
        ewma              double precision,
        ewma_mode         text NOT NULL,
        ewma_alpha        double precision,
        ewma_span         integer,
        ewma_half_life_ms bigint,
        stored_at         timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT trade_stats_window_pkey PRIMARY KEY (instrument, window_start),
        CHECK (window_end > window_start)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE trade_stats_window');
  }
}
