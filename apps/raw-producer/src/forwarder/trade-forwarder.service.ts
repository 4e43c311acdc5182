import { Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DeribitTrade, PublishedTrades, TradeSource, TradeSourceEvent, TradeSourceListener } from '@lib/domain';
import { MessagePublisher, TopicSpec } from '@lib/kafka-avro';
import { fullJitterDelay, sleep } from '@lib/platform';
import { RawProducerMetrics } from '../metrics/raw-producer.metrics';
import { SourceEventsReporter } from '../metrics/source-events.reporter';
import { TradeAdmission, TradeAdmissionOptions } from './trade-admission';
import { TradePublishLoop, TradePublishOptions } from './trade-publish.loop';
import { TradeQueue } from './trade-queue';

export interface TradeForwarderOptions extends TradeAdmissionOptions, TradePublishOptions {
  /** Queued trades (not counting those held for a back-fill) beyond which onTrades makes the source wait. */
  readonly maxQueuedTrades: number;
  /** How long shutdown keeps trying to write what is buffered. */
  readonly shutdownTimeoutMs: number;
  /**
   * Trades read back per partition of the topic at start-up (see restore()): enough to hold every
   * instrument's last trade, or that instrument's first trade after a restart is not checked.
   */
  readonly restoreTailPerPartition: number;
  /** Budget of the start-up read-back, retries included; past it the app does not start. */
  readonly restoreTimeoutMs: number;
  /** How often the source's watermark is written to the topic (after the trades before it); 0: never. */
  readonly watermarkIntervalMs: number;
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
 *
 * The parts, one concern each: TradeAdmission (dedupe, trade_seq checks, back-fill of gaps), TradeQueue
 * (order and backpressure) and TradePublishLoop (publish and retry); this class restores their starting
 * point and runs their lifecycle.
 */
export class TradeForwarder implements TradeSourceListener, OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('TradeForwarder');
  private readonly queue = new TradeQueue();
  private readonly admission: TradeAdmission;
  private readonly publishing: TradePublishLoop;
  /** Set once shutdown begins: backpressure is lifted, back-fills end, the source is stopped. */
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;
  private readonly events: SourceEventsReporter;
  private watermarkTimer: NodeJS.Timeout | undefined;
  private lastWatermark = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly source: TradeSource,
    publisher: MessagePublisher,
    private readonly topic: TopicSpec<DeribitTrade>,
    private readonly metrics: RawProducerMetrics,
    private readonly opts: TradeForwarderOptions,
    /** What the topic already holds, read back before the source starts. */
    private readonly published: PublishedTrades,
  ) {
    this.admission = new TradeAdmission(this.queue, source, metrics, opts, this.stopping.signal, () =>
      this.queue.wake(),
    );
    this.publishing = new TradePublishLoop(
      this.queue,
      publisher,
      topic,
      metrics,
      opts,
      () => {
        this.metrics.buffered.set(this.buffered);
        if (this.queue.size < this.opts.maxQueuedTrades) this.queue.releaseSpace();
      },
      () => this.admission.instruments(),
    );
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
    this.publishing.start();
    await this.source.start(this);
    if (this.opts.watermarkIntervalMs > 0) {
      this.watermarkTimer = setInterval(() => this.markWatermark(), this.opts.watermarkIntervalMs);
      this.watermarkTimer.unref();
    }
  }

  /**
   * Asks the publish loop for the source's watermark, to be written after the trades queued so far: only
   * while no gap is being filled and no catch-up runs (trades older than the watermark may still come
   * from them), and only forward.
   */
  markWatermark(): void {
    if (!this.admission.idle || this.stopping.signal.aborted) return;
    const time = this.source.watermark();
    if (time === undefined || time <= this.lastWatermark) return;
    this.lastWatermark = time;
    this.queue.markWatermark(time);
    this.queue.wake();
  }

  /**
   * Reads the topic's tail back and makes it the admission's starting point (each instrument's last
   * published trade_seq, the recent trade_ids). Retried within `restoreTimeoutMs`; failing that, start-up
   * fails: running without it would publish a replay's trades a second time.
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
    const instruments = this.admission.restore(trades);
    this.metrics.restoredInstruments.set(instruments);
    this.log.log(
      `restored the trade_seq of ${instruments} instrument(s) from the last ${trades.length} ` +
        `trade(s) of ${this.topic.name} in ${Date.now() - started} ms`,
    );
  }

  /** Stops the source, then writes what is buffered (bounded by shutdownTimeoutMs). Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping.abort();
      clearInterval(this.watermarkTimer);
      this.queue.releaseSpace();
      await this.source.stop();
      await this.admission.settled();
      await this.publishing.drain(this.opts.shutdownTimeoutMs);
    })();
    return this.stopped;
  }

  /** Trades received and not yet acknowledged by Kafka, minus the batch in flight. */
  get buffered(): number {
    return this.queue.size + this.admission.held;
  }

  /**
   * Backpressure counts the queue only: pausing the source for trades held for a back-fill would also
   * hold back the back-fill's answer they wait for.
   */
  onTrades(trades: readonly DeribitTrade[]): Promise<void> {
    this.metrics.received.inc(trades.length);
    for (const t of trades) this.admission.admit(t);
    this.metrics.buffered.set(this.buffered);
    this.queue.wake();
    if (this.queue.size < this.opts.maxQueuedTrades || this.stopping.signal.aborted) return RESOLVED;
    return this.queue.waitForSpace();
  }

  /** A (re)subscription starts the catch-up of every known instrument (see TradeAdmission.catchUp). */
  onEvent(event: TradeSourceEvent): void {
    this.events.report(event);
    if (event.type === 'subscribed') this.admission.catchUp();
  }
}
