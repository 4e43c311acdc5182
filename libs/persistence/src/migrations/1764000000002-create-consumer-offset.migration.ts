import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Offsets of consumers that commit to PostgreSQL instead of Kafka: the next offset to read per
 * (group, topic, partition), written in the same transaction as the effects of the messages before
 * it. A missing row means the partition has never been flushed.
 */
export class CreateConsumerOffset1764000000002 implements MigrationInterface {
  name = 'CreateConsumerOffset1764000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE consumer_offset (
        group_id    text COLLATE "C" NOT NULL,
        topic       text COLLATE "C" NOT NULL,
        partition   integer     NOT NULL CHECK (partition >= 0),
        next_offset bigint      NOT NULL CHECK (next_offset >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT consumer_offset_pkey PRIMARY KEY (group_id, topic, partition)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE consumer_offset');
  }
}
