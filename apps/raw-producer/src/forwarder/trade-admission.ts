import { DeribitTrade, RecentIdSet, SequenceCheck, TradeSequenceTracker, TradeSource } from '@lib/domain';
import { fullJitterDelay, sleep } from '@lib/platform';
import { Logger } from '@nestjs/common';
import { RawProducerMetrics } from '../metrics/raw-producer.metrics';
import { TradeQueue } from './trade-queue';

export interface TradeAdmissionOptions {
  /** Recent trade_ids remembered to drop duplicates. */
  readonly dedupeCapacity: number;
  /** Fill trade_seq gaps with the source's fetchTrades (when it supports it). */
  readonly backfillEnabled: boolean;
  /** Largest gap back-filled; only its newest part is fetched when it is larger. */
  readonly backfillMaxTrades: number;
  /** Budget of one gap's back-fill, retries included. */
  readonly backfillTimeoutMs: number;
  /**
   * How long trades a back-fill could not recover are asked for again in the background, after the
   * held trades went on (0: never; they are counted unrecovered at once).
   */
  readonly backfillRetryForMs: number;
}

/** Trades asked for per request when catching up (Deribit answers at most 1,000). */
const CATCH_UP_PAGE = 1_000;
/** Catch-up requests in flight at once, for the server's rate limits. */
const CATCH_UP_CONCURRENCY = 4;
/** Instruments quiet for longer than this before the newest known trade are not caught up. */
const CATCH_UP_HORIZON_MS = 3_600_000;

/** Trades of one instrument waiting for the back-fill of the gap before the first of them. */
interface Hold {
  readonly from: number;
  readonly to: number;
  /** Event time of the instrument's last trade before the gap (unknown after a restart without one). */
  readonly after: number | undefined;
  /** Event time of the trade that revealed the gap: the missing trades are at or before it. */
  readonly before: number;
  /** The trade that revealed the gap, then everything that came after it, in order. */
  readonly pending: DeribitTrade[];
}

/**
 * Which received trades go on to the queue, and in what order: a trade_id among the last
 * `dedupeCapacity`, or a trade_seq not above the instrument's last, is a duplicate and dropped; a
 * trade_seq gap holds the instrument's trades while the gap is back-filled from the source, then queues
 * the fetched trades before the trade that revealed the gap, and the held ones after it (each checked
 * in turn: one may reveal the next gap).
 */
export class TradeAdmission {
  private readonly log = new Logger('TradeForwarder');
  private readonly ids: RecentIdSet;
  private readonly seqs = new TradeSequenceTracker();
  /** Newest event time queued per instrument: with the revealing trade's, it brackets a gap in time. */
  private readonly lastTimes = new Map<string, number>();
  private readonly holds = new Map<string, Hold>();
  /** Instruments being caught up after a reconnection, with the trades that came meanwhile, in order. */
  private readonly catchUps = new Map<string, DeribitTrade[]>();
  private readonly backfills = new Set<Promise<void>>();
  /** Later retries of back-fills that came back short; ended by `stopping`. */
  private readonly retries = new Set<Promise<void>>();
  private heldCount = 0;

  constructor(
    private readonly queue: TradeQueue,
    private readonly source: TradeSource,
    private readonly metrics: RawProducerMetrics,
    private readonly opts: TradeAdmissionOptions,
    /** Aborted at shutdown: no new back-fill starts, running ones stop retrying. */
    private readonly stopping: AbortSignal,
    /** Called when a back-fill queued trades. */
    private readonly onQueued: () => void,
  ) {
    this.ids = new RecentIdSet(opts.dedupeCapacity);
  }

  /** Trades waiting for a back-fill. */
  get held(): number {
    return this.heldCount;
  }

  /** No gap is being filled and no catch-up runs: every trade received is queued or dropped. */
  get idle(): boolean {
    return this.holds.size === 0 && this.catchUps.size === 0;
  }

  /** The instruments with a known last trade_seq (from the topic or since), the ones a watermark covers. */
  instruments(): IterableIterator<string> {
    return this.seqs.names();
  }

  /**
   * Makes what the topic already holds the starting point: each instrument's last trade_seq becomes its
   * watermark and the trade_ids are remembered (oldest first, so the newest stay in the dedupe window).
   * Returns how many instruments it knows.
   */
  restore(published: readonly DeribitTrade[]): number {
    const byTime = [...published].sort((a, b) => a.timestamp - b.timestamp);
    for (const t of byTime) {
      this.ids.add(t.trade_id);
      this.seqs.restore(t.instrument_name, t.trade_seq);
      this.noteTime(t);
    }
    return this.seqs.instruments;
  }

  admit(t: DeribitTrade): void {
    const waiting = this.holds.get(t.instrument_name)?.pending ?? this.catchUps.get(t.instrument_name);
    if (waiting !== undefined) {
      waiting.push(t);
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
        this.queue.push(t);
        this.noteTime(t);
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

  /**
   * After a (re)subscription: trades made while the source was away only show up as a trade_seq gap at
   * the instrument's next trade, which for a quiet instrument may come much later (and a watermark would
   * have passed them). So the known instruments' trades after their last are asked for now, paged, within
   * `backfillTimeoutMs` each; an instrument's new trades wait meanwhile, as behind a gap. What comes back
   * goes through the usual checks (counted as a gap when there is any); a catch-up that fails leaves the
   * rest to the gap check of the next trade. Bounded for the server's rate limits: at most
   * CATCH_UP_CONCURRENCY requests at a time, and only instruments that traded within CATCH_UP_HORIZON_MS
   * of the newest trade known (by the exchange's clock): one quiet for longer, or no longer subscribed,
   * is left to its next trade's gap check.
   */
  catchUp(): void {
    if (!this.opts.backfillEnabled || !this.source.supportsBackfill || this.stopping.aborted) return;
    let newest = Number.NEGATIVE_INFINITY;
    for (const time of this.lastTimes.values()) if (time > newest) newest = time;
    const due: [string, DeribitTrade[]][] = [];
    for (const instrument of this.seqs.names()) {
      const last = this.lastTimes.get(instrument);
      if (this.holds.has(instrument) || this.catchUps.has(instrument)) continue;
      if (last === undefined || last < newest - CATCH_UP_HORIZON_MS) continue;
      const pending: DeribitTrade[] = [];
      this.catchUps.set(instrument, pending);
      due.push([instrument, pending]);
    }
    const worker = async (): Promise<void> => {
      for (let next = due.shift(); next !== undefined; next = due.shift()) await this.catchUpOne(...next);
    };
    const workers = Math.min(CATCH_UP_CONCURRENCY, due.length);
    for (let i = 0; i < workers; i++) {
      const running = worker().finally(() => this.backfills.delete(running));
      this.backfills.add(running);
    }
  }

  /** One instrument's catch-up: what it fetched, then the trades that came meanwhile, through the checks. */
  private async catchUpOne(instrument: string, pending: DeribitTrade[]): Promise<void> {
    const fetched = await this.fetchAfter(instrument);
    this.catchUps.delete(instrument);
    this.heldCount -= pending.length;
    // The subscription was live while the catch-up asked: a trade both delivered and fetched is the overlap
    // of the two, neither missed nor a re-delivery to count as a duplicate.
    const delivered = new Set(pending.map((t) => t.trade_id));
    const last = this.seqs.lastSeq(instrument) ?? 0;
    const missed = fetched.filter((t) => t.trade_seq > last && !delivered.has(t.trade_id)).length;
    if (missed > 0) {
      this.log.warn(`caught up ${instrument} after a reconnection: ${missed} trade(s) made while away`);
      this.metrics.gaps.inc();
      this.metrics.missing.inc(missed);
      this.metrics.backfilled.inc(missed);
    }
    for (const t of fetched) this.admit(t);
    const overlap = new Set(fetched.map((t) => t.trade_id));
    for (const t of pending) if (!overlap.has(t.trade_id)) this.admit(t);
    this.onQueued();
  }

  /** An instrument's trades after its last trade_seq, page by page (at most backfillMaxTrades). */
  private async fetchAfter(instrument: string): Promise<DeribitTrade[]> {
    const out: DeribitTrade[] = [];
    const deadline = Date.now() + this.opts.backfillTimeoutMs;
    let from = (this.seqs.lastSeq(instrument) ?? 0) + 1;
    while (out.length < this.opts.backfillMaxTrades) {
      const to = from + Math.min(CATCH_UP_PAGE, this.opts.backfillMaxTrades - out.length) - 1;
      const page = await this.fetchRange(instrument, from, to, deadline, 'catch-up');
      if (page === undefined) break;
      out.push(...page);
      if (page.length === 0 || page[page.length - 1].trade_seq < to) break;
      from = to + 1;
    }
    return out;
  }

  /** Resolves when every back-fill started so far has ended (later retries too, once `stopping` is aborted). */
  async settled(): Promise<void> {
    await Promise.all([...this.backfills]);
    if (this.stopping.aborted) await Promise.all([...this.retries]);
  }

  private onGap(t: DeribitTrade, gap: Extract<SequenceCheck, { kind: 'gap' }>): void {
    this.metrics.gaps.inc();
    this.metrics.missing.inc(gap.missing);
    const what = `trade_seq gap on ${t.instrument_name}: ${gap.missing} trade(s) missing (${gap.from}..${gap.to}) before trade ${t.trade_id}`;
    if (!this.opts.backfillEnabled || !this.source.supportsBackfill || this.stopping.aborted) {
      this.log.warn(
        `${what}; not back-filled (${this.opts.backfillEnabled ? 'the source cannot' : 'BACKFILL_ENABLED=false'})`,
      );
      this.metrics.unrecovered.inc(gap.missing);
      this.queue.push(t);
      this.queue.markGap(t.instrument_name, { time: t.timestamp, count: gap.missing });
      return;
    }
    const from = Math.max(gap.from, gap.to - this.opts.backfillMaxTrades + 1);
    if (from > gap.from) {
      this.log.warn(`${what}; larger than BACKFILL_MAX_TRADES: ${gap.from}..${from - 1} are not fetched`);
      this.metrics.unrecovered.inc(from - gap.from);
      this.queue.markGap(t.instrument_name, { time: t.timestamp, count: from - gap.from });
    } else {
      this.log.warn(`${what}; back-filling`);
    }
    const hold: Hold = {
      from,
      to: gap.to,
      after: this.lastTimes.get(t.instrument_name),
      before: t.timestamp,
      pending: [t],
    };
    this.noteTime(t);
    this.holds.set(t.instrument_name, hold);
    this.heldCount++;
    const running = this.backfill(t.instrument_name, hold).finally(() => this.backfills.delete(running));
    this.backfills.add(running);
  }

  /** Fetches a gap's trades (retrying within the budget), queues them, then releases the held trades. */
  private async backfill(instrument: string, hold: Hold): Promise<void> {
    const missing = new Set<number>();
    for (let seq = hold.from; seq <= hold.to; seq++) missing.add(seq);
    const fetched = await this.fetchGap(instrument, hold);
    if (countMissing(fetched, missing) < missing.size) fetched.push(...(await this.fetchByTime(instrument, hold)));
    this.holds.delete(instrument);
    this.heldCount -= hold.pending.length;
    const filled = this.queueRecovered(instrument, fetched, missing);
    const expected = hold.to - hold.from + 1;
    // The trade that revealed the gap was already checked; those after it go through the checks below,
    // in order (one of them may reveal another gap and start a new hold for the rest).
    const [revealing, ...later] = hold.pending;
    this.queue.push(revealing);
    if (filled < expected) {
      this.log.warn(`back-fill of ${instrument} ${hold.from}..${hold.to} recovered ${filled} of ${expected} trades`);
      this.retryLater(instrument, hold, missing);
    } else {
      this.log.log(`back-fill of ${instrument} ${hold.from}..${hold.to} recovered all ${filled} trades`);
    }
    for (const t of later) this.admit(t);
    this.onQueued();
  }

  /**
   * Queues, in trade_seq order, the fetched trades of `instrument` whose seq is still `missing` (and
   * takes them out of it); answers how many. They bypass the seq watermark, which is already past them.
   */
  private queueRecovered(instrument: string, fetched: readonly DeribitTrade[], missing: Set<number>): number {
    const found = fetched
      .filter((t) => t.instrument_name === instrument && missing.has(t.trade_seq))
      .sort((a, b) => a.trade_seq - b.trade_seq);
    let filled = 0;
    for (const t of found) {
      if (!missing.delete(t.trade_seq) || !this.ids.add(t.trade_id)) continue;
      this.queue.push(t);
      filled++;
    }
    this.metrics.backfilled.inc(filled);
    return filled;
  }

  /**
   * A back-fill came back short (the source failed past the budget, or returned part of the gap): the
   * held trades have gone on, and the missing ones are asked for again in the background, with growing
   * pauses, for backfillRetryForMs. What comes back is published late, after newer trades (readers see
   * it as a late trade); what never does is counted unrecovered, and so is what is left at shutdown.
   */
  private retryLater(instrument: string, hold: Hold, missing: Set<number>): void {
    const { from, to } = hold;
    // In the stats record at once (agg-producer counts them into the revealing trade's window); what a
    // later attempt recovers is taken off again.
    this.queue.markGap(instrument, { time: hold.before, count: missing.size });
    if (this.opts.backfillRetryForMs <= 0 || this.stopping.aborted) {
      this.metrics.unrecovered.inc(missing.size);
      return;
    }
    this.metrics.backfillPending.inc(missing.size);
    const giveUpAt = Date.now() + this.opts.backfillRetryForMs;
    const running = (async () => {
      // The pauses never reach past giveUpAt: the last attempt is made at it, so a gap is given up (and
      // counted) within backfillRetryForMs plus one request, not up to a whole backoff step later.
      for (let attempt = 0; missing.size > 0 && Date.now() < giveUpAt; attempt++) {
        await sleep(Math.min(fullJitterDelay(attempt, 1_000, 30_000), giveUpAt - Date.now()), this.stopping);
        if (this.stopping.aborted) break;
        const before = missing.size;
        try {
          // No spread into Math.min/max: a gap may hold up to BACKFILL_MAX_TRADES (1,000,000) seqs.
          let [lo, hi] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
          for (const seq of missing) [lo, hi] = [Math.min(lo, seq), Math.max(hi, seq)];
          const fetched = await this.source.fetchTrades(instrument, lo, hi);
          if (countMissing(fetched, missing) < missing.size)
            fetched.push(...(await this.fetchByTime(instrument, hold)));
          this.queueRecovered(instrument, fetched, missing);
        } catch (err) {
          this.log.debug(`later back-fill of ${instrument} ${from}..${to} failed: ${(err as Error).message}`);
        }
        const recovered = before - missing.size;
        if (recovered > 0) {
          this.metrics.backfillPending.dec(recovered);
          this.queue.markGap(instrument, { time: hold.before, count: -recovered });
          this.log.log(
            `later back-fill of ${instrument} ${from}..${to} recovered ${recovered}; ${missing.size} still missing`,
          );
          this.onQueued();
        }
      }
      if (missing.size > 0) {
        this.metrics.backfillPending.dec(missing.size);
        this.metrics.unrecovered.inc(missing.size);
        this.log.warn(
          `gave up the back-fill of ${instrument} ${from}..${to}: ${missing.size} trade(s) not recovered` +
            (this.stopping.aborted ? ' (shutting down)' : ` in ${this.opts.backfillRetryForMs} ms`),
        );
      }
    })().finally(() => this.retries.delete(running));
    this.retries.add(running);
  }

  /**
   * The fallback when sequence numbers do not reach (the server answers a trade_seq range with less than it
   * has): the instrument's trades between the last one before the gap and the one that revealed it, by
   * time. One attempt; [] when the source cannot say, or the gap's start time is unknown.
   */
  private async fetchByTime(instrument: string, hold: Hold): Promise<DeribitTrade[]> {
    if (hold.after === undefined) return [];
    try {
      const found = await this.source.fetchTradesByTime(instrument, hold.after, hold.before);
      this.log.log(`back-fill of ${instrument} ${hold.from}..${hold.to} by time: ${found.length} trade(s) in range`);
      return found;
    } catch (err) {
      this.log.debug(`back-fill of ${instrument} by time failed: ${(err as Error).message}`);
      return [];
    }
  }

  private noteTime(t: DeribitTrade): void {
    const last = this.lastTimes.get(t.instrument_name);
    if (last === undefined || t.timestamp > last) this.lastTimes.set(t.instrument_name, t.timestamp);
  }

  /** The source's trades of the gap, retried within `backfillTimeoutMs`; [] when that fails. */
  private async fetchGap(instrument: string, hold: Hold): Promise<DeribitTrade[]> {
    const deadline = Date.now() + this.opts.backfillTimeoutMs;
    return (await this.fetchRange(instrument, hold.from, hold.to, deadline, 'back-fill')) ?? [];
  }

  /** The source's trades of [from, to], retried until `deadline`; undefined when that fails. */
  private async fetchRange(
    instrument: string,
    from: number,
    to: number,
    deadline: number,
    what: string,
  ): Promise<DeribitTrade[] | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.source.fetchTrades(instrument, from, to);
      } catch (err) {
        const delay = fullJitterDelay(attempt, 100, 2_000);
        if (this.stopping.aborted || Date.now() + delay >= deadline) {
          this.log.warn(`${what} of ${instrument} ${from}..${to} failed: ${(err as Error).message}`);
          return undefined;
        }
        await sleep(delay, this.stopping);
      }
    }
  }
}

/** How many of `fetched` are still `missing` (distinct trade_seqs). */
function countMissing(fetched: readonly DeribitTrade[], missing: ReadonlySet<number>): number {
  return new Set(fetched.filter((t) => missing.has(t.trade_seq)).map((t) => t.trade_seq)).size;
}
