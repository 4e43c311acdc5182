import { PipelineConfig } from '@lib/config';
import { AggregateStore, minuteBucketOf } from '@lib/domain';
import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { counter } from '@lib/platform';

/**
 * Keeps RETENTION_HOURS of event time behind the retention watermark, deleting whole older buckets.
 * The watermark is event time, not the wall clock (a replay of 2022 data is kept while it is the
 * newest): the newest minute with at least RETENTION_WATERMARK_TAGS tags counted at or after it. One
 * tag dated far ahead (the gateway refuses them, but a topic can be written by other producers) used
 * to be the newest bucket and deleted the whole cube; it now has to be joined by
 * RETENTION_WATERMARK_TAGS - 1 others before the watermark moves. A tag far in the past never moves
 * it: it is counted, and its bucket goes at the next run when it is older than the window.
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
      const watermark = await this.store.watermarkBucket(this.config.RETENTION_WATERMARK_TAGS);
      if (watermark === undefined) return 0;
      const cutoff = minuteBucketOf(watermark - this.config.RETENTION_HOURS * 3_600_000);
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
