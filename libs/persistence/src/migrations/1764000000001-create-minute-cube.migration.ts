import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The minute cube: count and sum(price) per (minute bucket, action, dims, origin, brand_id,
 * category_id), where `dims` is the mask of the fixed dimensions (cube-key.ts) and an unfixed one
 * holds ''. Client values are never empty, so '' never is a fixed value.
 *
 * No CHECK constraints (mask agreeing with the values, whole-minute buckets, action names): they
 * cost 14% of the upsert's PostgreSQL CPU (bench/persistence, RESULTS.md), and the only writer is
 * PgAggregateStore, which builds every row from cubeKeysOfTag-shaped keys.
 *
 * - Primary key (action, dims, origin, brand_id, category_id, bucket_ms): the slice first, then time.
 *   A query fixes the slice and ranges over buckets, so it is one index range scan that reads
 *   exactly the range's stored buckets, whatever else the cube holds. The flush upserts on it.
 * - Index on the minute number (bucket_ms / 60000): retention deletes old buckets by range of it
 *   without a table scan; new buckets arrive at its right edge, so
 *   it is cheap to maintain. It is an expression index on purpose: a query never names that
 *   expression, so the planner cannot pick it over the primary key. A plain index on bucket_ms
 *   would look best for a range at the newest edge (beyond the statistics, estimated empty) and turn
 *   a one-slice read into a scan of every cell of those minutes.
 * - fillfactor 90: room on each page for in-place (HOT) updates when a later flush adds to a cell
 *   of the same minute, sparing index writes.
 * - bucket_ms is epoch milliseconds of the minute's start, what the domain uses.
 */
export class CreateMinuteCube1764000000001 implements MigrationInterface {
  name = 'CreateMinuteCube1764000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE minute_cube (
        bucket_ms   bigint   NOT NULL,
        count       bigint   NOT NULL,
        sum_price   bigint   NOT NULL,
        dims        smallint NOT NULL,
        action      text COLLATE "C" NOT NULL,
        origin      text COLLATE "C" NOT NULL,
        brand_id    text COLLATE "C" NOT NULL,
        category_id text COLLATE "C" NOT NULL,
        CONSTRAINT minute_cube_pkey PRIMARY KEY (action, dims, origin, brand_id, category_id, bucket_ms)
      ) WITH (fillfactor = 90)`);
    await queryRunner.query('CREATE INDEX minute_cube_minute_idx ON minute_cube ((bucket_ms / 60000))');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE minute_cube');
  }
}
