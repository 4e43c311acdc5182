import { AggProducerConfig } from '@lib/config';
import { Clock, DeribitTrade } from '@lib/domain';
import {
  ConsumedBatch,
  ConsumerHandle,
  MessageConsumer,
  TopicReader,
  TransactionalPublisher,
} from '@lib/kafka-avro/messaging';
import { Backoff, ReadinessRegistry, sleep } from '@lib/platform';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AggProducerMetrics } from './agg-producer.metrics';
import { AggProducerTopics } from './agg-producer.topics';
import { LateTrade, TradeStatsProcessor } from './trade-stats.processor';

/** Runs async work one piece at a time, in call order; a failure does not block what follows. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

const INTERVALS = { idle: 'agg-producer.idle-check', commit: 'agg-producer.commit' } as const;
const RESTART_BACKOFF_MS = { firstMs: 500, maxMs: 15_000 };
/**
 * Processing goes on while a transaction is in flight (the next one takes what accumulated meanwhile);
 * past this many trades processed and not yet in a transaction, a batch waits for the transactions to
 * catch up. Bounds memory and the work a crash makes redo: about half a second of input at full speed.
 */
const MAX_UNCOMMITTED_TRADES = 50_000;

/**
 * Drives the processor, exactly once: consumes the trades topic (read_committed) with offsets kept
 * outside the consumer, and in ONE transaction publishes the windows that closed, writes the changed
 * state to the changelog and commits the consumed offsets. A transaction starts when windows closed
 * (so statistics go out at once) and otherwise COMMIT_INTERVAL_MS after the last one; processing goes
 * on while it is in flight (up to MAX_UNCOMMITTED_TRADES), what it did then goes into the next one.
 *
 * On every partition assignment the state is restored by reading the changelog to its end, and
 * consumption resumes at the offsets stored there, so after a crash the work since the last transaction
 * is redone from the same state and gives the same output; the aborted or never-committed output of the
 * crashed run is invisible to read_committed readers.
 *
 * A failed transaction leaves memory ahead of Kafka: the runner stops the consumer, forgets its state
 * and starts again from the changelog (what Kafka Streams does with a task after a failed commit).
 */
@Injectable()
export class TradeStatsRunner implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('agg-producer');
  private readonly serial = new SerialQueue();
  private readonly ticking = new Set<'idle' | 'commit'>();
  private handle: ConsumerHandle | undefined;
  private lastCommitAt = 0;
  /** Set while memory may be ahead of Kafka, until the state is rebuilt. */
  private failure: unknown;
  private stopping = false;
  private starting: Promise<void> | undefined;
  /** The running sequence of transactions, if any; `commitAgain` asks it for one more. */
  private committing: Promise<void> | undefined;
  private commitAgain = false;

  constructor(
    private readonly config: AggProducerConfig,
    private readonly processor: TradeStatsProcessor,
    private readonly topics: AggProducerTopics,
    private readonly consumer: MessageConsumer,
    private readonly publisher: TransactionalPublisher,
    private readonly reader: TopicReader,
    private readonly clock: Clock,
    private readonly metrics: AggProducerMetrics,
    private readonly scheduler: SchedulerRegistry,
    @Optional() private readonly readiness?: ReadinessRegistry,
  ) {}

  /** Consuming, with state restored, and not rebuilding after a failure. */
  get isRunning(): boolean {
    return this.handle !== undefined && this.handle.isRunning() && this.failure === undefined;
  }

  onApplicationBootstrap(): void {
    this.readiness?.register('agg-producer', () => {
      if (!this.isRunning) throw new Error('agg-producer is not consuming (starting, or rebuilding its state)');
    });
    this.scheduler.addInterval(
      INTERVALS.idle,
      setInterval(() => this.tick('idle'), this.config.IDLE_CHECK_INTERVAL_MS),
    );
    this.scheduler.addInterval(
      INTERVALS.commit,
      setInterval(() => this.tick('commit'), Math.max(10, Math.floor(this.config.COMMIT_INTERVAL_MS / 2))),
    );
    // Not awaited: the HTTP server (health, metrics) comes up while Kafka is reached, retried and restored.
    this.starting = this.startConsumer();
  }

  /** Stops consuming and commits what was processed, before the messaging clients close. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    for (const name of Object.values(INTERVALS)) {
      if (this.scheduler.doesExist('interval', name)) this.scheduler.deleteInterval(name);
    }
    await this.starting;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.stop();
    await this.serial.run(async () => {
      if (this.failure === undefined) await this.commitSoon();
    });
  }

  private readonly onBatch = (batch: ConsumedBatch<DeribitTrade>): Promise<void> =>
    this.serial.run(async () => {
      if (this.failure !== undefined) throw new Error('agg-producer is rebuilding its state after a failure');
      const outcome = this.processor.process(batch, this.clock.now());
      this.metrics.tradesConsumed.inc(outcome.trades);
      if (outcome.duplicates > 0) this.metrics.duplicateTrades.inc(outcome.duplicates);
      for (const late of outcome.late) this.reportLate(late);
      for (const gap of outcome.unplacedGaps) {
        this.metrics.unplacedUnrecovered.inc(Math.max(0, gap.count));
        this.log.warn(
          `${gap.count} unrecovered trade(s) of ${gap.instrument} revealed at ${new Date(gap.time).toISOString()}: ` +
            'that window is past REVISION_WINDOWS (or the instrument is unknown here); not in any stats record',
        );
      }
      if (this.processor.closedWindows > 0 || this.commitDue()) {
        const committed = this.commitSoon();
        if (this.processor.uncommittedTrades > MAX_UNCOMMITTED_TRADES) await committed;
        else committed.catch(() => undefined);
      }
    });

  private reportLate(late: LateTrade): void {
    this.metrics.lateTrades.inc();
    const t = late.trade;
    this.log.warn(
      `late trade ${t.instrument_name} trade_id=${t.trade_id} at ${new Date(t.timestamp).toISOString()} ` +
        `(${late.topic}/${late.partition}@${late.offset}): its window is already published and past REVISION_WINDOWS, ` +
        `open windows start at ${new Date(late.openFrom).toISOString()}; not aggregated`,
    );
  }

  private commitDue(): boolean {
    return this.processor.hasChanges && this.clock.now() - this.lastCommitAt >= this.config.COMMIT_INTERVAL_MS;
  }

  /**
   * Commits everything processed so far, in one transaction or, when one is in flight, in the one that
   * follows it (transactions run one at a time, in order). Resolves once it is committed; rejects when
   * a transaction failed (fail() has then recorded it and started the rebuild).
   */
  private commitSoon(): Promise<void> {
    this.commitAgain = true;
    this.committing ??= this.commitLoop().finally(() => {
      this.committing = undefined;
    });
    return this.committing;
  }

  private async commitLoop(): Promise<void> {
    while (this.commitAgain) {
      if (this.failure !== undefined) throw new Error('agg-producer is rebuilding its state after a failure');
      this.commitAgain = false;
      await this.commitOnce();
    }
  }

  private async commitOnce(): Promise<void> {
    const work = this.processor.takeWork();
    if (work === undefined) return;
    const endTimer = this.metrics.transactionSeconds.startTimer();
    try {
      await this.publisher.inTransaction(async (tx) => {
        if (work.stats.length > 0) await tx.publish(this.topics.stats, work.stats);
        await tx.publish(this.topics.state, work.state);
        if (work.offsets.length > 0) await tx.commitOffsets(this.config.STATS_GROUP_ID, work.offsets);
      });
    } catch (err) {
      this.fail('transaction', err);
      throw err;
    } finally {
      endTimer();
    }
    this.lastCommitAt = this.clock.now();
    this.metrics.published(work.published);
    // The newest window's EWMA: a revision of an older window repeats an older one.
    for (const s of work.stats)
      if (s.ewma !== null && s.revision === 0) this.metrics.ewma.set({ instrument: s.instrument }, s.ewma);
    this.metrics.instruments.set(this.processor.instrumentCount);
  }

  private tick(kind: 'idle' | 'commit'): void {
    if (this.failure !== undefined || this.handle === undefined || this.ticking.has(kind)) return;
    this.ticking.add(kind);
    this.serial
      .run(() => {
        if (this.failure !== undefined) return;
        const closed = kind === 'idle' ? this.processor.closeIdle(this.clock.now()) : 0;
        // Not awaited, as for batches: a failed commit is recorded and logged by fail(), which rebuilds.
        if (closed > 0 || this.commitDue()) this.commitSoon().catch(() => undefined);
      })
      .catch((err: unknown) => this.log.error(`scheduled ${kind} check failed: ${String(err)}`))
      .finally(() => this.ticking.delete(kind));
  }

  private async restore(partitions: readonly number[]): Promise<ReadonlyMap<number, string>> {
    // In the queue and after the transaction in flight, so that no transaction of this instance commits
    // between the read and the restore.
    const { records, resume, seconds } = await this.serial.run(async () => {
      await this.committing?.catch(() => undefined);
      const endTimer = this.metrics.restoreSeconds.startTimer();
      const read = await this.reader.readToEnd(this.topics.state, { timeoutMs: this.config.STATE_RESTORE_TIMEOUT_MS });
      const resumeAt = this.processor.restore(read, partitions, this.clock.now());
      return { records: read, resume: resumeAt, seconds: endTimer() };
    });
    this.metrics.restoredRecords.inc(records.length);
    this.log.log(
      `restored state of partitions [${partitions.join(', ')}] from ${records.length} changelog records in ` +
        `${Math.round(seconds * 1000)} ms: ${this.processor.instrumentCount} instruments, resuming at ` +
        `${[...resume].map(([p, o]) => `${p}@${o}`).join(', ') || 'the beginning'}`,
    );
    this.metrics.instruments.set(this.processor.instrumentCount);
    return resume;
  }

  private async startConsumer(): Promise<void> {
    const backoff = new Backoff(RESTART_BACKOFF_MS);
    while (!this.stopping) {
      try {
        // An empty transaction registers the transactional id. That fences a predecessor and lets its last
        // transaction finish (commit or abort) first, so the changelog's end is final before it is read.
        await this.publisher.inTransaction(async () => undefined);
        await this.reader.ensureTopic(this.topics.state, { compacted: true });
        this.handle = await this.consumer.start<DeribitTrade>({
          groupId: this.config.STATS_GROUP_ID,
          topic: this.topics.trades,
          fromBeginning: true,
          resumeFrom: (partitions) => this.restore(partitions),
          onRevoked: (partitions) => this.processor.drop(partitions),
          onBatch: this.onBatch,
        });
        this.lastCommitAt = this.clock.now();
        return;
      } catch (err) {
        this.metrics.failures.inc({ stage: 'consumer' });
        const delay = backoff.next();
        this.log.error(`could not start consuming ${this.topics.trades.name}, retrying in ${delay} ms: ${String(err)}`);
        await sleep(delay);
      }
    }
  }

  /** Memory is ahead of Kafka: stop consuming, forget the state, start again from the changelog. */
  private fail(stage: 'transaction', err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.metrics.failures.inc({ stage });
    this.log.error(
      `${stage} failed, rebuilding state from the changelog: ${err instanceof Error ? err.stack : String(err)}`,
    );
    // Not awaited here: stopping the consumer waits for the batch in progress, which is the caller.
    setImmediate(() => {
      this.starting = this.rebuild();
    });
  }

  private async rebuild(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.stop().catch((err: unknown) => this.log.warn(`stopping the consumer: ${String(err)}`));
    await this.committing?.catch(() => undefined);
    await this.serial.run(() => this.processor.reset());
    this.failure = undefined;
    await this.startConsumer();
  }
}
