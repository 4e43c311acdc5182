import { createReadStream } from 'node:fs';
import { access, constants } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  DeribitTrade,
  isTradesChannel,
  parseDeribitFrame,
  parseTrades,
  TradeSource,
  TradeSourceEvent,
  TradeSourceListener,
  TradeSourceState,
} from '@lib/domain';
import { sleep } from '@lib/platform';
import { ReplayLoopShifter } from './replay-loop';

export interface NdjsonReplayOptions {
  /** One JSON-RPC frame per line, as Deribit sent it; only trades notifications are replayed. */
  readonly file: string;
  /** 1 replays at the recorded pace (from the trades' timestamps), 10 ten times faster. */
  readonly speed: number;
  /** Start over at the end of the file, shifting trades (see ReplayLoopShifter) so they stay distinct. */
  readonly loop: boolean;
  /**
   * Recordings of at most this many trades are replayed from memory after the first pass (~300 bytes a
   * trade); larger ones are read again on each pass. Default 200 000.
   */
  readonly memoryMaxTrades?: number;
}

const SAMPLE_CHARS = 200;
/** Frames delivered between two yields to the event loop when the replay runs ahead of its schedule. */
const FRAMES_PER_YIELD = 256;
/** Most trades of consecutive due frames handed over in one call. */
const BATCH_MAX_TRADES = 500;
/** A frame due sooner than this is delivered at once: timers are not finer anyway. */
const MIN_SLEEP_MS = 2;

/**
 * Replays a recording of Deribit notifications. Pacing follows the first trade of each notification: a
 * notification recorded d ms after the first one is delivered d / speed ms after the start (never earlier;
 * later when the listener applies backpressure, after which the replay catches up as fast as it can).
 * Timestamps are kept as recorded (a faithful replay, so lag metrics show the recording's age); with
 * `loop`, pass k moves them k recording-lengths later. Non-trade frames (heartbeats, answers) are skipped;
 * malformed lines are reported and skipped.
 */
export class NdjsonReplaySource extends TradeSource {
  readonly supportsBackfill = false;

  private status: TradeSourceState = 'idle';
  private stopping = new AbortController();
  private loopDone: Promise<void> | undefined;
  private listener: TradeSourceListener | undefined;
  /** Newest timestamp handed to the listener. */
  private newest: number | undefined;
  /**
   * While the replay waits: since when (wall clock), how fast its clock runs meanwhile (`speed` before a
   * notification's time, real time once finished), and the event time it stays below.
   */
  private waiting: { readonly since: number; readonly rate: number; readonly until: number } | undefined;

  constructor(private readonly opts: NdjsonReplayOptions) {
    super();
  }

  async start(listener: TradeSourceListener): Promise<void> {
    if (this.loopDone !== undefined) throw new Error('NdjsonReplaySource already started');
    try {
      await access(this.opts.file, constants.R_OK);
    } catch (err) {
      throw new Error(`cannot read the replay file REPLAY_FILE=${this.opts.file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.listener = listener;
    this.stopping = new AbortController();
    this.status = 'streaming';
    this.loopDone = this.run().catch((err: Error) => {
      this.emit({ type: 'disconnected', reason: `replay failed: ${err.message}` });
      this.status = 'idle';
    });
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loopDone;
    this.loopDone = undefined;
    this.status = 'idle';
  }

  state(): TradeSourceState {
    return this.status;
  }

  /**
   * The newest time delivered; while waiting for the next notification, the recording's clock advances
   * from it at `speed`, up to just before that notification; once finished, at the wall clock's pace (a
   * fast replay's last windows then close as a live feed's would, not years of empty ones at once).
   */
  watermark(): number | undefined {
    if (this.newest === undefined || this.status === 'idle') return undefined;
    if (this.waiting === undefined) return this.newest;
    const clock = this.newest + (Date.now() - this.waiting.since) * this.waiting.rate;
    return Math.max(this.newest, Math.min(Math.floor(clock), this.waiting.until - 1));
  }

  fetchTrades(): Promise<DeribitTrade[]> {
    return Promise.reject(new Error('a replay cannot fetch trades it did not record'));
  }

  fetchTradesByTime(): Promise<DeribitTrade[]> {
    return this.fetchTrades();
  }

  private async run(): Promise<void> {
    const shifter = new ReplayLoopShifter();
    const started = Date.now();
    let firstTs: number | undefined;
    let sinceYield = 0;
    // Notifications of pass 0, kept while the recording is small so later passes skip reading and parsing.
    let cache: DeribitTrade[][] | undefined = [];
    let cachedTrades = 0;

    // Frames due together (a replay ahead of its schedule) are handed over as one batch: per-call costs
    // (awaits, counters) then stop dominating when notifications hold a trade or two each.
    let pending: DeribitTrade[] = [];
    const flush = async (): Promise<boolean> => {
      if (pending.length > 0) {
        const batch = pending;
        pending = [];
        await this.listener?.onTrades(batch);
        for (const t of batch) if (this.newest === undefined || t.timestamp > this.newest) this.newest = t.timestamp;
      }
      return !this.stopping.signal.aborted;
    };

    /** Takes `trades` once they are due (delivering what is pending before waiting); false once stopping. */
    const play = async (trades: DeribitTrade[]): Promise<boolean> => {
      firstTs ??= trades[0].timestamp;
      const waitMs = started + (trades[0].timestamp - firstTs) / this.opts.speed - Date.now();
      if (waitMs >= MIN_SLEEP_MS) {
        if (!(await flush())) return false;
        this.waiting = { since: Date.now(), rate: this.opts.speed, until: trades[0].timestamp };
        await sleep(waitMs, this.stopping.signal);
        this.waiting = undefined;
        sinceYield = 0;
      } else if (++sinceYield >= FRAMES_PER_YIELD) {
        await yieldToEventLoop();
        sinceYield = 0;
      }
      if (this.stopping.signal.aborted) return false;
      for (const t of trades) pending.push(t);
      return pending.length >= BATCH_MAX_TRADES ? flush() : true;
    };

    this.emit({ type: 'connected', detail: this.opts.file });
    this.emit({ type: 'subscribed', channels: [`replay:${this.opts.file}`], pass: 0 });
    let delivered = 0;
    const lines = createInterface({
      input: createReadStream(this.opts.file, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    try {
      for await (const line of lines) {
        if (this.stopping.signal.aborted) return;
        const trades = this.tradesOf(line);
        if (trades === undefined) continue;
        for (const t of trades) shifter.observe(t);
        if (cache !== undefined) {
          cachedTrades += trades.length;
          if (cachedTrades <= (this.opts.memoryMaxTrades ?? 200_000)) cache.push(trades);
          else cache = undefined;
        }
        if (!(await play(trades))) return;
        delivered += trades.length;
      }
    } finally {
      lines.close();
    }

    // An empty (or all-malformed) recording would otherwise loop without ever yielding.
    for (let pass = 1; this.opts.loop && delivered > 0 && !this.stopping.signal.aborted; pass++) {
      this.emit({ type: 'subscribed', channels: [`replay:${this.opts.file}`], pass });
      if (cache !== undefined) {
        for (const trades of cache) {
          if (!(await play(trades.map((t) => shifter.shift(t, pass))))) return;
        }
      } else {
        for await (const trades of this.readFrames()) {
          if (!(await play(trades.map((t) => shifter.shift(t, pass))))) return;
        }
      }
    }
    if (await flush()) {
      this.waiting = { since: Date.now(), rate: 1, until: Number.POSITIVE_INFINITY };
      this.status = 'finished';
      this.emit({ type: 'finished' });
    }
  }

  /** The trades notifications of the file, read again (for recordings too large to keep in memory). */
  private async *readFrames(): AsyncGenerator<DeribitTrade[]> {
    const lines = createInterface({
      input: createReadStream(this.opts.file, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    try {
      for await (const line of lines) {
        if (this.stopping.signal.aborted) return;
        const trades = this.tradesOf(line, false);
        if (trades !== undefined) yield trades;
      }
    } finally {
      lines.close();
    }
  }

  /**
   * The valid trades of a trades notification line; undefined for anything else. Problems are reported
   * on the first pass only: later passes read the same lines.
   */
  private tradesOf(line: string, report = true): DeribitTrade[] | undefined {
    if (line.trim() === '') return undefined;
    const frame = parseDeribitFrame(line);
    if (frame.kind === 'malformed') {
      if (report)
        this.emit({ type: 'malformed', what: 'frame', reason: frame.reason, sample: line.slice(0, SAMPLE_CHARS) });
      return undefined;
    }
    if (frame.kind !== 'subscription' || !isTradesChannel(frame.channel)) return undefined;
    const { trades, rejected } = parseTrades(frame.data);
    if (report) {
      for (const r of rejected) {
        this.emit({ type: 'malformed', what: 'trade', reason: r.reason, sample: line.slice(0, SAMPLE_CHARS) });
      }
    }
    return trades.length > 0 ? trades : undefined;
  }

  private emit(event: TradeSourceEvent): void {
    this.listener?.onEvent(event);
  }
}
