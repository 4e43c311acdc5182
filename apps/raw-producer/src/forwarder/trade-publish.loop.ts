import { DeribitTrade } from '@lib/domain';
import { MessagePublisher, PublishError, TopicSpec, TradeGap, tradeGapMarker, tradeWatermark } from '@lib/kafka-avro';
import { fullJitterDelay, sleep } from '@lib/platform';
import { Logger } from '@nestjs/common';
import { RawProducerMetrics } from '../metrics/raw-producer.metrics';
import { TradeQueue } from './trade-queue';

export interface TradePublishOptions {
  /** Most trades per publish call. */
  readonly publishBatchMax: number;
  /**
   * How long one publish may take before it counts as failed and is retried. Generous: a publish that
   * timed out may still be written, and its retry then duplicates it in the topic.
   */
  readonly publishTimeoutMs: number;
  readonly publishRetryBaseMs: number;
  readonly publishRetryMaxMs: number;
}

/**
 * Takes the queue's trades in order and publishes them, one call in flight at a time (so each
 * instrument's trades reach the topic in order), retrying a failed call with capped, jittered backoff
 * for as long as the app runs. `drain` ends it: what is queued is written until the deadline, and
 * whatever is left then is logged as lost.
 */
export class TradePublishLoop {
  private readonly log = new Logger('TradeForwarder');
  private running: Promise<void> | undefined;
  private drainDeadline: number | undefined;
  private readonly draining = new AbortController();

  constructor(
    private readonly queue: TradeQueue,
    private readonly publisher: MessagePublisher,
    private readonly topic: TopicSpec<DeribitTrade>,
    private readonly metrics: RawProducerMetrics,
    private readonly opts: TradePublishOptions,
    /** Called after each batch written. */
    private readonly onWritten: () => void,
    /** The instruments a watermark is written for. */
    private readonly instruments: () => Iterable<string>,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Writes what is queued for at most `timeoutMs`, then ends the loop. Idempotent. */
  async drain(timeoutMs: number): Promise<void> {
    if (this.drainDeadline === undefined) {
      this.drainDeadline = Date.now() + timeoutMs;
      this.draining.abort();
      this.queue.wake();
    }
    await this.running;
  }

  private async loop(): Promise<void> {
    for (;;) {
      const watermark = this.queue.takeWatermark();
      if (watermark !== undefined) {
        await this.publishWatermark(watermark);
        continue;
      }
      const gaps = this.queue.takeGaps();
      if (gaps.length > 0) {
        if (!(await this.publishGapMarkers(gaps))) {
          this.log.error(`shutdown deadline passed: ${gaps.length} gap marker(s) were not written to Kafka`);
          break;
        }
        continue;
      }
      if (this.queue.size === 0) {
        if (this.drainDeadline !== undefined) break;
        await this.queue.nextArrival();
        continue;
      }
      const batch = this.queue.take(this.opts.publishBatchMax);
      if (!(await this.publishWithRetry(batch))) {
        const lost = batch.length + this.queue.size;
        this.log.error(`shutdown deadline passed: ${lost} received trades were not written to Kafka`);
        break;
      }
      this.onWritten();
    }
  }

  /**
   * One marker per instrument, each after the instrument's trades in its partition. Not retried: the next
   * watermark says more, and a lost one only delays the windows it would have closed.
   */
  private async publishWatermark(time: number): Promise<void> {
    const markers = [...this.instruments()].map((instrument) => tradeWatermark(instrument, time));
    if (markers.length === 0) return;
    try {
      await this.publisher.publishMarkers(this.topic, markers, { timeoutMs: this.opts.publishTimeoutMs });
      this.metrics.watermark.set(time / 1_000);
    } catch (err) {
      this.metrics.publishFailures.inc();
      this.log.debug(`writing the watermark ${new Date(time).toISOString()} failed: ${(err as Error).message}`);
    }
  }

  private sendOpts(): { timeoutMs: number } {
    return { timeoutMs: this.opts.publishTimeoutMs };
  }

  /** Retries until written; gives up (returns false) only after the shutdown deadline. */
  private async publishWithRetry(batch: DeribitTrade[]): Promise<boolean> {
    let rejected: PublishError | undefined;
    const written = await this.withRetry(batch.length, async () => {
      try {
        await this.publisher.publish(this.topic, batch, this.sendOpts());
      } catch (err) {
        if (!(err instanceof PublishError && err.reason === 'rejected')) throw err;
        this.metrics.publishFailures.inc();
        rejected = err;
        return;
      }
      this.metrics.produced.inc(batch.length);
      const now = Date.now();
      for (const t of batch) this.metrics.lag.observe((now - t.timestamp) / 1_000);
    });
    return rejected === undefined ? written : this.isolateRejected(batch, rejected);
  }

  /**
   * Calls `send` until it succeeds, with capped, jittered backoff; gives up (returns false) only after the
   * shutdown deadline. `records` is for the log.
   */
  private async withRetry(records: number, send: () => Promise<void>): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        await send();
        return true;
      } catch (err) {
        this.metrics.publishFailures.inc();
        const delay = fullJitterDelay(attempt, this.opts.publishRetryBaseMs, this.opts.publishRetryMaxMs);
        if (this.drainDeadline !== undefined && Date.now() + delay >= this.drainDeadline) return false;
        // The first failure and then every power of two: a long outage stays visible without flooding.
        if ((attempt & (attempt + 1)) === 0) {
          this.log.warn(
            `publishing ${records} records failed (attempt ${attempt + 1}), retrying in ${delay} ms: ${(err as Error).message}`,
          );
        }
        // Shutdown cuts a long wait short once, so the remaining attempts fit before the deadline.
        await sleep(delay, this.drainDeadline === undefined ? this.draining.signal : undefined);
      }
    }
  }

  /**
   * Gap markers, retried until written like trades (a lost one would leave a stats record wrong); false
   * only after the shutdown deadline. A rejection (the broker refusing the records, e.g. a topic's
   * configuration) fails the same way on every retry: the markers are logged in full and counted, then
   * dropped, so the trades queued behind them go on.
   */
  private async publishGapMarkers(
    gaps: readonly { readonly instrument: string; readonly gap: TradeGap }[],
  ): Promise<boolean> {
    const markers = gaps.map((g) => tradeGapMarker(g.instrument, g.gap));
    return this.withRetry(markers.length, async () => {
      try {
        await this.publisher.publishMarkers(this.topic, markers, this.sendOpts());
      } catch (err) {
        if (!(err instanceof PublishError && err.reason === 'rejected')) throw err;
        this.metrics.publishFailures.inc();
        this.metrics.rejectedGapMarkers.inc(markers.length);
        this.log.error(`gap markers rejected by the publisher, dropped: ${err.message}: ${JSON.stringify(gaps)}`);
      }
    });
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
}
