import { PipelineConfig } from '@lib/config';
import { AggregateStore, minuteBucketOf } from '@lib/domain';
import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { counter } from '@lib/platform';

/**
 * Keeps RETENTION_HOURS of event time behind the newest bucket stored (event time, not the wall
 * clock: a replay of 2022 data is kept while it is the newest), deleting whole older buckets.
 */
@Injectable()
export class RetentionJob {
  private readonly logger = new Logger('retention');
  private running = false;
  private readonly deleted = counter({
    name: 'pipeline_aggregate_retention_deleted_rows_total',
    help: 'Cube rows deleted by retention',
  });

  constructor(
    private readonly config: PipelineConfig,
    private readonly store: AggregateStore,
  ) {}

  @Cron(CronExpression.EVERY_MINUTE, { name: 'aggregate-retention' })
  async run(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const newest = await this.store.newestBucket();
      if (newest === undefined) return 0;
      const cutoff = minuteBucketOf(newest - this.config.RETENTION_HOURS * 3_600_000);
      const rows = await this.store.deleteBucketsBefore(cutoff);
      if (rows > 0) {
        this.deleted.inc(rows);
        this.logger.log(`deleted ${rows} cube rows before ${new Date(cutoff).toISOString()}`);
      }
      return rows;
    } catch (err) {
      this.logger.warn(`retention skipped this time: ${(err as Error).message}`);
      return 0;
    } finally {
      this.running = false;
    }
  }
}
