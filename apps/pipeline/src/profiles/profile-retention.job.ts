import { PipelineConfig } from '@lib/config';
import { ProfileStore } from '@lib/domain';
import { counter } from '@lib/platform';
import { Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';

const MS_PER_DAY = 86_400_000;

/**
 * Optional profile retention (PROFILE_RETENTION_DAYS, 0 = off, the default): once an hour, deletes
 * the profile lists not written for that many days of wall-clock time. On Aerospike the records
 * expire by their TTL instead (set at each write) and this finds nothing to do. Unlike the cube's
 * retention this is wall-clock time: a profile is personal data kept for as long as its user is
 * active, whatever the event times of a replay.
 */
@Injectable()
export class ProfileRetentionJob {
  private readonly logger = new Logger('profile-retention');
  private running = false;
  private readonly deleted = counter({
    name: 'pipeline_profile_retention_deleted_lists_total',
    help: 'Profile lists (cookie and action) deleted by profile retention',
  });

  constructor(
    private readonly config: PipelineConfig,
    private readonly store: ProfileStore,
  ) {}

  @Cron(CronExpression.EVERY_HOUR, { name: 'profile-retention' })
  async run(nowMs = Date.now()): Promise<number> {
    const days = this.config.PROFILE_RETENTION_DAYS;
    if (days <= 0 || this.running) return 0;
    this.running = true;
    try {
      const lists = await this.store.deleteIdle(nowMs - days * MS_PER_DAY);
      if (lists > 0) {
        this.deleted.inc(lists);
        this.logger.log(`deleted ${lists} profile lists not written for ${days} days`);
      }
      return lists;
    } catch (err) {
      this.logger.warn(`profile retention skipped this time: ${(err as Error).message}`);
      return 0;
    } finally {
      this.running = false;
    }
  }
}
