import { PipelineConfig } from '@lib/config';
import { AggregateStore, DomainError, UserTag } from '@lib/domain';
import { ConsumedBatch, ConsumerHandle, TopicSpec } from '@lib/kafka-avro/messaging';
import { counter, histogram, ReadinessRegistry } from '@lib/platform';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { USER_TAGS_TOPIC } from '@lib/kafka-avro';
import { MinuteCubeAccumulator } from './minute-cube.accumulator';

const FLUSH_JOB = 'aggregate-flush';
/** Above this many unflushed tags, consumption waits for a flush: memory stays bounded when PostgreSQL is slow or down. */
const MAX_PENDING_TAGS = 200_000;

/**
 * Minute aggregates, exactly once into PostgreSQL, fed by the pipeline's one consumer of user tags
 * (UserTagsConsumer), whose offsets it owns.
 *
 * fetch → accumulate per partition (8 cube cells per tag, in its own minute) → every
 * AGG_FLUSH_INTERVAL_MS one transaction adds the deltas and stores the offsets they cover. On
 * assignment it resumes from the offsets in PostgreSQL, not Kafka's; the store refuses a flush
 * that does not continue its stored offset (a partition that moved to another consumer), so a
 * crash or rebalance at any moment neither loses nor double-counts a tag.
 */
@Injectable()
export class MinuteCubeAggregator {
  private readonly logger = new Logger('aggregates');
  private readonly acc: MinuteCubeAccumulator;
  private handle: ConsumerHandle | undefined;
  private flushing: Promise<void> | undefined;
  private lastFlushOk = true;
  /** Partitions the consumer assigned to this instance (resume adds, revoke removes). */
  private readonly assigned = new Set<number>();
  /** Fenced while still assigned: to be rewound to the store's offset at the next flush. */
  private readonly toRewind = new Set<number>();
  /** Rewound, waiting for the first batch from the store's offset (see accumulate). */
  private readonly rewinding = new Map<number, { offset: string; skipped: boolean }>();
  private readonly flushDuration = histogram({
    name: 'pipeline_aggregate_flush_duration_seconds',
    help: 'Duration of one aggregate flush (one PostgreSQL transaction)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  private readonly flushTags = histogram({
    name: 'pipeline_aggregate_flush_tags',
    help: 'Tags written by one aggregate flush',
    buckets: [1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000, 500_000],
  });
  private readonly rowsUpserted = counter({
    name: 'pipeline_aggregate_rows_upserted_total',
    help: 'Cube rows upserted by aggregate flushes',
  });
  private readonly flushFailures = counter({
    name: 'pipeline_aggregate_flush_failures_total',
    help: 'Aggregate flushes that failed and will be retried',
  });
  private readonly uncountable = counter({
    name: 'pipeline_aggregate_uncountable_tags_total',
    help: 'Decoded tags the aggregator could not count (impossible time); logged with their offset',
  });

  constructor(
    private readonly config: PipelineConfig,
    private readonly store: AggregateStore,
    @Inject(USER_TAGS_TOPIC) private readonly topic: TopicSpec<UserTag>,
    private readonly readiness: ReadinessRegistry,
    private readonly scheduler: SchedulerRegistry,
  ) {
    this.acc = new MinuteCubeAccumulator(config.AGGREGATES_GROUP_ID, config.TOPIC_USER_TAGS);
  }

  /** Flushes every AGG_FLUSH_INTERVAL_MS from now on, recording flushed offsets in Kafka through `handle`. */
  start(handle: ConsumerHandle): void {
    this.handle = handle;
    this.readiness.register('aggregates-flush', () => {
      if (!this.lastFlushOk) throw new Error('last flush to PostgreSQL failed');
    });
    this.scheduler.addInterval(
      FLUSH_JOB,
      setInterval(() => void this.flush(), this.config.AGG_FLUSH_INTERVAL_MS),
    );
  }

  /** The consumer's `resumeFrom`: where each assigned partition continues, from PostgreSQL. */
  async resume(partitions: readonly number[]): Promise<ReadonlyMap<number, string>> {
    const stored = await this.store.storedOffsets(this.config.AGGREGATES_GROUP_ID, this.topic.name);
    for (const p of partitions) {
      this.acc.assign(p, stored.get(p) ?? null);
      this.assigned.add(p);
      this.toRewind.delete(p);
      this.rewinding.delete(p);
    }
    return stored;
  }

  revoke(partitions: readonly number[]): void {
    for (const p of partitions) {
      this.acc.revoke(p);
      this.assigned.delete(p);
      this.toRewind.delete(p);
      this.rewinding.delete(p);
    }
  }

  async accumulate(batch: ConsumedBatch<UserTag>): Promise<void> {
    if (!this.resynced(batch)) return;
    for (const m of batch.messages) {
      try {
        this.acc.add(m.partition, m.offset, m.value);
      } catch (err) {
        if (!(err instanceof DomainError)) throw err;
        // Decodable but not countable (the gateway validates times, so only a foreign producer gets
        // here): counted and logged with its position, and skipped so the stream moves on.
        this.uncountable.inc();
        this.acc.skip(m.partition, m.offset);
        this.logger.error(`uncountable tag at ${m.topic}/${m.partition}@${m.offset}: ${err.message}`);
      }
    }
    while (this.acc.pendingTags() >= MAX_PENDING_TAGS) await this.flush();
  }

  /**
   * After a rewind, whether this batch counts. The batch that was in progress when the partition was
   * rewound may still arrive, starting past the store's offset: it is skipped (the consumer delivers it
   * again from the offset) and the rewind asked once more. The first batch starting at or before the
   * store's offset, or any batch after one was skipped (the offset's records may be gone from the log),
   * re-assigns the partition at that offset; records below it are ignored as already counted.
   */
  private resynced(batch: ConsumedBatch<UserTag>): boolean {
    const pending = this.rewinding.get(batch.partition);
    if (pending === undefined || batch.messages.length === 0) return true;
    if (BigInt(batch.messages[0].offset) > BigInt(pending.offset) && !pending.skipped) {
      pending.skipped = true;
      this.handle?.rewind(batch.partition, pending.offset);
      return false;
    }
    this.rewinding.delete(batch.partition);
    this.acc.assign(batch.partition, pending.offset);
    return true;
  }

  /**
   * Partitions fenced while still assigned to this consumer (a commit that succeeded but reported an
   * error, retried and then refused, or a race with a rebalance): their counts were dropped, so they
   * are read again from the offset the store holds, instead of being fetched and never counted.
   */
  private async rewindFenced(): Promise<void> {
    if (this.toRewind.size === 0) return;
    const stored = await this.store.storedOffsets(this.config.AGGREGATES_GROUP_ID, this.topic.name);
    for (const p of [...this.toRewind]) {
      this.toRewind.delete(p);
      const offset = stored.get(p);
      if (!this.assigned.has(p)) continue;
      if (offset === undefined) {
        this.logger.error(
          `partition ${p} was fenced but the store holds no offset for it; not counted until reassigned`,
        );
        continue;
      }
      this.rewinding.set(p, { offset, skipped: false });
      this.handle?.rewind(p, offset);
      this.logger.warn(`partition ${p}: counting again from the stored offset ${offset}`);
    }
  }

  /** One flush at a time; a call while one runs waits for it and then flushes what came meanwhile. */
  flush(): Promise<void> {
    const run = (this.flushing ?? Promise.resolve()).then(() => this.flushOnce());
    this.flushing = run.finally(() => {
      if (this.flushing === run) this.flushing = undefined;
    });
    return run;
  }

  private async flushOnce(): Promise<void> {
    await this.rewindFenced().catch((err: unknown) =>
      this.logger.error(`could not read stored offsets to rewind fenced partitions: ${(err as Error).message}`),
    );
    const snapshot = this.acc.take();
    if (!snapshot) return;
    const stop = this.flushDuration.startTimer();
    let result;
    try {
      result = await this.store.flush(snapshot.flush);
    } catch (err) {
      // Nothing was stored (one transaction): the deltas go back and are written next time.
      this.lastFlushOk = false;
      this.flushFailures.inc();
      this.acc.restore(snapshot);
      this.logger.error(`flush failed, will retry: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, Math.min(this.config.AGG_FLUSH_INTERVAL_MS, 1_000)));
      return;
    }
    stop();
    this.lastFlushOk = true;
    if (result.fenced.length > 0) {
      const dropped = this.acc.fence(snapshot, result.fenced);
      this.logger.warn(`partitions ${result.fenced.join(',')} were fenced by the store; dropped their deltas`);
      // A partition reassigned meanwhile (resume) already counts from the store's offset.
      for (const p of dropped) if (this.assigned.has(p)) this.toRewind.add(p);
      await this.rewindFenced().catch((err: unknown) =>
        this.logger.error(`could not read stored offsets to rewind fenced partitions: ${(err as Error).message}`),
      );
    }
    const applied = snapshot.flush.partitions.filter((p) => result.applied.includes(p.partition));
    this.flushTags.observe(applied.reduce((n, p) => n + (snapshot.taken.get(p.partition)?.tags ?? 0), 0));
    this.rowsUpserted.inc(result.rows);
    // The broker's copy of the offsets only feeds lag monitoring; PostgreSQL's copy is the truth.
    await this.handle
      ?.commit(applied.map((p) => ({ topic: this.topic.name, partition: p.partition, offset: p.nextOffset })))
      .catch((err: unknown) => this.logger.warn(`could not record offsets in Kafka: ${(err as Error).message}`));
  }

  /** After the consumer stopped: write what was consumed, so nothing counted in memory is left behind. */
  async stop(): Promise<void> {
    if (this.scheduler.doesExist('interval', FLUSH_JOB)) this.scheduler.deleteInterval(FLUSH_JOB);
    await this.flush();
  }
}
