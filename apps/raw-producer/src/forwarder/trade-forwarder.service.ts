import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import {
  DeribitTrade,
  PublishedTrades,
  RecentIdSet,
  SequenceCheck,
  TradeSequenceTracker,
  TradeSource,
  TradeSourceEvent,
  TradeSourceListener,
} from '@lib/domain';
import { MessagePublisher, PublishError, TopicSpec } from '@lib/kafka-avro';
import { RawProducerMetrics } from '../metrics/raw-producer.metrics';
import { SourceEventsReporter } from '../metrics/source-events.reporter';
import { fullJitterDelay, sleep } from '../source/backoff';

export interface TradeForwarderOptions {
  /** Recent trade_ids remembered to drop duplicates. */
  readonly dedupeCapacity: number;
  /** Fill trade_seq gaps with the source's fetchTrades (when it supports it). */
  readonly backfillEnabled: boolean;
  /** Largest gap back-filled; only its newest part is fetched when it is larger. */
  readonly backfillMaxTrades: number;
  /** Budget of one gap's back-fill, retries included. */
  readonly backfillTimeoutMs: number;
  /** Queued trades (not counting those held for a back-fill) beyond which onTrades makes the source wait. */
  readonly maxQueuedTrades: number;
  /** Most trades per publish call. */
  readonly publishBatchMax: number;
  /**
   * How long one publish may take before it counts as failed and is retried. Generous: a publish that
   * timed out may still be written, and its retry then duplicates it in the topic.
   */
  readonly publishTimeoutMs: number;
  readonly publishRetryBaseMs: number;
  readonly publishRetryMaxMs: number;
  /** How long shutdown keeps trying to write what is buffered. */
  readonly shutdownTimeoutMs: number;
  /**
   * Trades read back per partition of the topic at start-up (see restore()): enough to hold every
   * instrument's last trade, or that instrument's first trade after a restart is not checked.
   */
  readonly restoreTailPerPartition: number;
  /** Budget of the start-up read-back, retries included; past it the app does not start. */
  readonly restoreTimeoutMs: number;
}

/** Trades of one instrument waiting for the back-fill of the gap before the first of them. */
interface Hold {
  readonly from: number;
  readonly to: number;
  /** The trade that revealed the gap, then everything that came after it, in order. */
  readonly pending: DeribitTrade[];
}

const RESOLVED = Promise.resolve();

/**
 * Forwards a TradeSource's trades to the deribit-trades topic, reading as a straight line: receive,
 * drop duplicates, check trade_seq, back-fill a gap, queue, publish, retry.
 *
 * Guarantees (within one process lifetime):
 * - Order per instrument: accepted trades enter one FIFO in trade_seq order (a gap's back-filled trades
 *   before the trade that revealed it; later trades of that instrument wait for the back-fill) and one
 *   publish call is in flight at a time, so the topic receives each instrument's trades in order.
 * - Each distinct trade at most once from dedupe: a trade_id among the last `dedupeCapacity`, or a
 *   trade_seq not above the instrument's last, is a duplicate. (A publish that timed out but was in fact
 *   written is retried, and then appears twice: consumers needing exactly once dedupe by trade_id.)
 * - No received trade is dropped: a failed publish is retried with capped backoff for as long as the app
 *   runs, and while more than `maxQueuedTrades` are queued the source waits (backpressure). The one
 *   exception is a trade the publisher rejects as unwritable, which is logged in full and counted.
 *
 * Across restarts: before the source starts, the tail of every partition of the topic is read back
 * (PublishedTrades, read_committed) and each instrument's last published trade_seq and the recent
 * trade_ids are restored. So after a crash, trades the source delivers again (a replay re-read from the
 * start, overlapping channels) are dropped as stale, and trades that were received but not acknowledged
 * when the process died are a trade_seq gap of the instrument's next trade, back-filled like any other
 * gap (live source). A graceful shutdown stops the source first and then writes what is buffered, for at
 * most `shutdownTimeoutMs`.
 */
export class TradeForwarder implements TradeSourceListener, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('TradeForwarder');
  private readonly ids: RecentIdSet;
  private readonly seqs = new TradeSequenceTracker();
  private readonly holds = new Map<string, Hold>();
  private readonly backfills = new Set<Promise<void>>();
  private heldCount = 0;
  private queue: DeribitTrade[] = [];
  private head = 0;
  private spaceWaiters: (() => void)[] = [];
  private wakePublisher: (() => void) | undefined;
  private publishing: Promise<void> | undefined;
  /** Set once shutdown begins: backpressure is lifted, back-fills end, the source is stopped. */
  private readonly stopping = new AbortController();
  /** Set once the source is stopped: the publish loop ends when the queue is empty or at the deadline. */
  private drainDeadline: number | undefined;
  private readonly draining = new AbortController();

  private readonly events: SourceEventsReporter;

  constructor(
    private readonly source: TradeSource,
    private readonly publisher: MessagePublisher,
    private readonly topic: TopicSpec<DeribitTrade>,
    private readonly metrics: RawProducerMetrics,
    private readonly opts: TradeForwarderOptions,
    /** What the topic already holds, read back before the source starts. */
    private readonly published: PublishedTrades,
  ) {
    this.ids = new RecentIdSet(opts.dedupeCapacity);
    this.events = new SourceEventsReporter(metrics);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  async start(): Promise<void> {
    await this.restore();
    this.publishing ??= this.publishLoop();
    await this.source.start(this);
  }

  /**
   * Reads the topic's tail back and makes it the starting point: every instrument's last published
   * trade_seq becomes its watermark and the trade_ids are remembered (oldest first, so the newest stay in
   * the dedupe window). Retried within `restoreTimeoutMs`; failing that, start-up fails: running without
   * it would publish a replay's trades a second time.
   */
  private async restore(): Promise<void> {
    const started = Date.now();
    const deadline = started + this.opts.restoreTimeoutMs;
    let trades: DeribitTrade[];
    for (let attempt = 0; ; attempt++) {
      try {
        trades = await this.published.tail(this.opts.restoreTailPerPartition);
        break;
      } catch (err) {
        const delay = fullJitterDelay(attempt, 200, 2_000);
        if (Date.now() + delay >= deadline) {
          throw new Error(
            `could not read back ${this.topic.name} to restore trade_seq watermarks within ` +
              `${this.opts.restoreTimeoutMs} ms (TRADE_RESTORE_TIMEOUT_MS): ${(err as Error).message}`,
            { cause: err },
          );
        }
        this.log.warn(`reading back ${this.topic.name} failed, retrying in ${delay} ms: ${(err as Error).message}`);
        await sleep(delay);
      }
    }
    const byTime = [...trades].sort((a, b) => a.timestamp - b.timestamp);
    for (const t of byTime) {
      this.ids.add(t.trade_id);
      this.seqs.restore(t.instrument_name, t.trade_seq);
    }
    this.metrics.restoredInstruments.set(this.seqs.instruments);
    this.log.log(
      `restored the trade_seq of ${this.seqs.instruments} instrument(s) from the last ${trades.length} ` +
        `trade(s) of ${this.topic.name} in ${Date.now() - started} ms`,
    );
  }

  /** Stops the source, then writes what is buffered (bounded by shutdownTimeoutMs). Idempotent. */
  async stop(): Promise<void> {
    if (!this.stopping.signal.aborted) {
      this.stopping.abort();
      this.releaseSpaceWaiters();
      await this.source.stop();
      await Promise.all([...this.backfills]);
      this.drainDeadline = Date.now() + this.opts.shutdownTimeoutMs;
      this.draining.abort();
      this.wakePublisher?.();
    }
    await this.publishing;
  }

  /** Trades received and not yet acknowledged by Kafka, minus the batch in flight. */
  get buffered(): number {
    return this.queued + this.heldCount;
  }

  /**
   * Trades ready for Kafka, what backpressure is based on. Trades held for a back-fill do not count:
   * pausing the source for them would also hold back the back-fill's answer they wait for.
   */
  private get queued(): number {
    return this.queue.length - this.head;
  }

  onTrades(trades: readonly DeribitTrade[]): Promise<void> {
    this.metrics.received.inc(trades.length);
    for (const t of trades) this.admit(t);
    this.metrics.buffered.set(this.buffered);
    this.wakePublisher?.();
    if (this.queued < this.opts.maxQueuedTrades || this.stopping.signal.aborted) return RESOLVED;
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  onEvent(event: TradeSourceEvent): void {
    this.events.report(event);
  }

  private admit(t: DeribitTrade): void {
    const hold = this.holds.get(t.instrument_name);
    if (hold !== undefined) {
      hold.pending.push(t);
      this.heldCount++;
      return;
    }
    // Remembered at once, whatever follows: a repeat of this trade_id is a duplicate in any case.
    if (!this.ids.add(t.trade_id)) {
      this.metrics.duplicates.inc({ by: 'trade_id' });
      return;
    }
    const check = this.seqs.observe(t.instrument_name, t.trade_seq);
    switch (check.kind) {
      case 'first':
      case 'next':
        this.accept(t);
        return;
      case 'stale':
        // A different trade_id with an old seq: a re-delivery whose id has left the dedupe window.
        this.metrics.duplicates.inc({ by: 'trade_seq' });
        this.log.debug(
          `dropped ${t.instrument_name} trade ${t.trade_id}: trade_seq ${t.trade_seq} <= last ${check.last}`,
        );
        return;
      case 'gap':
        this.onGap(t, check);
        return;
    }
  }

  /** Queues a trade whose trade_id is already remembered. */
  private accept(t: DeribitTrade): void {
    this.queue.push(t);
  }

  private onGap(t: DeribitTrade, gap: Extract<SequenceCheck, { kind: 'gap' }>): void {
    this.metrics.gaps.inc();
    this.metrics.missing.inc(gap.missing);
    const what = `trade_seq gap on ${t.instrument_name}: ${gap.missing} trade(s) missing (${gap.from}..${gap.to}) before trade ${t.trade_id}`;
    if (!this.opts.backfillEnabled || !this.source.supportsBackfill || this.stopping.signal.aborted) {
      this.log.warn(
        `${what}; not back-filled (${this.opts.backfillEnabled ? 'the source cannot' : 'BACKFILL_ENABLED=false'})`,
      );
      this.metrics.unrecovered.inc(gap.missing);
      this.accept(t);
      return;
    }
    const from = Math.max(gap.from, gap.to - this.opts.backfillMaxTrades + 1);
    if (from > gap.from) {
      this.log.warn(`${what}; larger than BACKFILL_MAX_TRADES: ${gap.from}..${from - 1} are not fetched`);
      this.metrics.unrecovered.inc(from - gap.from);
    } else {
      this.log.warn(`${what}; back-filling`);
    }
    const hold: Hold = { from, to: gap.to, pending: [t] };
    this.holds.set(t.instrument_name, hold);
    this.heldCount++;
    const running = this.backfill(t.instrument_name, hold).finally(() => this.backfills.delete(running));
    this.backfills.add(running);
  }

  /** Fetches a gap's trades (retrying within the budget), queues them, then releases the held trades. */
  private async backfill(instrument: string, hold: Hold): Promise<void> {
    const deadline = Date.now() + this.opts.backfillTimeoutMs;
    let fetched: DeribitTrade[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        fetched = await this.source.fetchTrades(instrument, hold.from, hold.to);
        break;
      } catch (err) {
        const delay = fullJitterDelay(attempt, 100, 2_000);
        if (this.stopping.signal.aborted || Date.now() + delay >= deadline) {
          this.log.warn(`back-fill of ${instrument} ${hold.from}..${hold.to} failed: ${(err as Error).message}`);
          break;
        }
        await sleep(delay, this.stopping.signal);
      }
    }

    this.holds.delete(instrument);
    this.heldCount -= hold.pending.length;
    let next = hold.from;
    let filled = 0;
    for (const t of fetched) {
      if (t.instrument_name !== instrument || t.trade_seq < next || t.trade_seq > hold.to) continue;
      if (!this.ids.add(t.trade_id)) continue;
      this.accept(t);
      next = t.trade_seq + 1;
      filled++;
    }
    const expected = hold.to - hold.from + 1;
    this.metrics.backfilled.inc(filled);
    if (filled < expected) {
      this.metrics.unrecovered.inc(expected - filled);
      this.log.warn(`back-fill of ${instrument} ${hold.from}..${hold.to} recovered ${filled} of ${expected} trades`);
    } else {
      this.log.log(`back-fill of ${instrument} ${hold.from}..${hold.to} recovered all ${filled} trades`);
    }
    // The trade that revealed the gap was already checked; those after it go through the checks now,
    // in order (one of them may reveal another gap and start a new hold for the rest).
    const [revealing, ...later] = hold.pending;
    this.accept(revealing);
    for (const t of later) this.admit(t);
    this.wakePublisher?.();
  }

  private async publishLoop(): Promise<void> {
    for (;;) {
      if (this.queue.length === this.head) {
        if (this.drainDeadline !== undefined) break;
        await new Promise<void>((resolve) => (this.wakePublisher = resolve));
        this.wakePublisher = undefined;
        continue;
      }
      const batch = this.take(this.opts.publishBatchMax);
      if (!(await this.publishWithRetry(batch))) {
        const lost = batch.length + this.queue.length - this.head;
        this.log.error(`shutdown deadline passed: ${lost} received trades were not written to Kafka`);
        break;
      }
      this.metrics.buffered.set(this.buffered);
      if (this.queued < this.opts.maxQueuedTrades) this.releaseSpaceWaiters();
    }
  }

  /** Retries until written; gives up (returns false) only after the shutdown deadline. */
  private async publishWithRetry(batch: DeribitTrade[]): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.publisher.publish(this.topic, batch, { timeoutMs: this.opts.publishTimeoutMs });
        this.metrics.produced.inc(batch.length);
        const now = Date.now();
        for (const t of batch) this.metrics.lag.observe((now - t.timestamp) / 1_000);
        return true;
      } catch (err) {
        this.metrics.publishFailures.inc();
        if (err instanceof PublishError && err.reason === 'rejected') return this.isolateRejected(batch, err);
        const delay = fullJitterDelay(attempt, this.opts.publishRetryBaseMs, this.opts.publishRetryMaxMs);
        if (this.drainDeadline !== undefined && Date.now() + delay >= this.drainDeadline) return false;
        // The first failure and then every power of two: a long outage stays visible without flooding.
        if ((attempt & (attempt + 1)) === 0) {
          this.log.warn(
            `publishing ${batch.length} trades failed (attempt ${attempt + 1}), retrying in ${delay} ms: ${(err as Error).message}`,
          );
        }
        // Shutdown cuts a long wait short once, so the remaining attempts fit before the deadline.
        await sleep(delay, this.drainDeadline === undefined ? this.draining.signal : undefined);
      }
    }
  }

  /**
   * A rejected publish (a value the serde or broker refuses) fails the same way on every retry. Publishing
   * the batch's trades one by one, in order, writes the good ones and singles out the bad: each is logged
   * in full (so it can be replayed by hand) and counted, then skipped, instead of blocking every trade
   * behind it forever. Parsing makes this a should-not-happen: it checks what the schema requires.
   */
  private async isolateRejected(batch: DeribitTrade[], err: PublishError): Promise<boolean> {
    if (batch.length === 1) {
      this.metrics.rejected.inc();
      this.log.error(`trade rejected by the publisher, skipped: ${err.message}: ${JSON.stringify(batch[0])}`);
      return true;
    }
    for (const t of batch) {
      if (!(await this.publishWithRetry([t]))) return false;
    }
    return true;
  }

  private take(n: number): DeribitTrade[] {
    const batch = this.queue.slice(this.head, this.head + n);
    this.head += batch.length;
    // Compact once the consumed prefix dominates, so the array does not grow without bound.
    if (this.head >= 4_096 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  private releaseSpaceWaiters(): void {
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
