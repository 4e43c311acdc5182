import {
  DeribitErrorCode,
  DeribitRpcErrorBody,
  DeribitTrade,
  isTradesChannel,
  parseTrades,
  TEST_REQUEST,
  TradeSource,
  TradeSourceEvent,
  TradeSourceListener,
  TradeSourceState,
} from '@lib/domain';
import { fullJitterDelay, sleep } from '@lib/platform';
import { DeribitRpcConnection, DeribitRpcError } from './deribit-rpc.connection';

export interface DeribitLiveOptions {
  readonly url: string;
  readonly channels: readonly string[];
  /** When given, every connection authenticates and subscribes with private/subscribe. */
  readonly credentials?: { readonly clientId: string; readonly clientSecret: string };
  /** Asked with public/set_heartbeat (Deribit's minimum is 10). */
  readonly heartbeatIntervalS: number;
  /** Reconnect when no frame at all arrived for this long (the socket is not paused). */
  readonly watchdogMs: number;
  readonly connectTimeoutMs: number;
  readonly rpcTimeoutMs: number;
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  /** Least delay before reconnecting after a 10028 too_many_requests. */
  readonly rateLimitBackoffMs: number;
  /** Notifications handed to the listener and not yet accepted beyond which the socket is paused. */
  readonly maxPendingDeliveries?: number;
  readonly random?: () => number;
}

/** Largest count get_last_trades_by_instrument accepts. */
const BACKFILL_PAGE = 1_000;
/** Most pages one time-range back-fill asks for (1,000 trades each). */
const BACKFILL_TIME_PAGES = 100;
const SAMPLE_CHARS = 200;
/** Share of an access token's lifetime after which it is refreshed. */
const TOKEN_REFRESH_AT = 0.8;

const HINTS: Record<number, string> = {
  [DeribitErrorCode.TooManyRequests]:
    'rate limit exceeded: Deribit ends the session; reconnecting after DERIBIT_RATE_LIMIT_BACKOFF_MS at least',
  [DeribitErrorCode.RawSubscriptionsNeedAuth]:
    'raw trade channels need an authenticated connection: set DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET, or subscribe to 100ms channels',
  [DeribitErrorCode.InvalidCredentials]: 'check DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET',
  [DeribitErrorCode.Unauthorized]: 'the connection is not (or no longer) authenticated',
};

interface AuthResult {
  access_token?: unknown;
  refresh_token?: unknown;
  expires_in?: unknown;
}

/**
 * Trades from Deribit's websocket API (JSON-RPC 2.0). Per connection: optionally `public/auth`
 * (client_credentials), `public/set_heartbeat`, then `public/subscribe` or `private/subscribe`; every
 * `test_request` heartbeat is answered with `public/test`. Any failure (handshake, auth, subscribe,
 * close by the server, 10028, the watchdog finding the line silent) ends the connection and a new one is
 * opened after a full-jitter exponential backoff, capped; a successful subscription resets the backoff.
 * Subscriptions and authentication belong to a connection, so every new one redoes both.
 *
 * Backpressure: notifications are handed to the listener one at a time; while more than
 * `maxPendingDeliveries` wait, the socket is paused, so TCP pushes back on the server. A long pause makes
 * Deribit drop the connection (heartbeats go unanswered); trades missed meanwhile show up as a trade_seq
 * gap after the reconnect, which the listener can back-fill.
 *
 * Over 300 lines on purpose: connection, subscription, authentication refresh and reconnection are one
 * state machine over one socket; the JSON-RPC framing is deribit-rpc.connection.ts.
 */
export class DeribitLiveSource extends TradeSource {
  readonly supportsBackfill = true;

  private listener: TradeSourceListener | undefined;
  private current: DeribitRpcConnection | undefined;
  private status: TradeSourceState = 'idle';
  private stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private deliveries: Promise<void> = Promise.resolve();
  private pendingDeliveries = 0;
  /** When each notification still waiting for the listener was received, oldest first. */
  private readonly receivedAt: number[] = [];
  /** Newest trade time handed to the listener, and the wall time when it was: the exchange's clock. */
  private newest: { readonly time: number; readonly at: number } | undefined;
  private rateLimitedUntil = 0;
  private readonly maxPending: number;
  private readonly random: () => number;

  constructor(private readonly opts: DeribitLiveOptions) {
    super();
    this.maxPending = opts.maxPendingDeliveries ?? 256;
    this.random = opts.random ?? Math.random;
  }

  start(listener: TradeSourceListener): Promise<void> {
    if (this.loop !== undefined) return Promise.reject(new Error('DeribitLiveSource already started'));
    this.listener = listener;
    this.stopping = new AbortController();
    this.status = 'connecting';
    this.loop = this.run();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.current?.close('stopping');
    await this.loop;
    await this.deliveries;
    this.loop = undefined;
    this.status = 'idle';
  }

  state(): TradeSourceState {
    return this.status;
  }

  /**
   * While subscribed: the exchange's clock as the feed shows it, the newest trade time handed over moved on
   * by the wall time since (the local clock is not compared with the exchange's: they need not agree, and a
   * test exchange's runs apart); while a notification waits to be handed over, that newest time as is.
   * Undefined before the first trade and while not subscribed. A trade made while disconnected is older
   * than the reconnection: the listener holds the watermark until it caught up.
   */
  watermark(): number | undefined {
    if (this.status !== 'streaming' || this.newest === undefined) return undefined;
    if (this.receivedAt.length > 0) return this.newest.time;
    return this.newest.time + (Date.now() - this.newest.at);
  }

  async fetchTrades(instrument: string, startSeq: number, endSeq: number): Promise<DeribitTrade[]> {
    const out: DeribitTrade[] = [];
    // Pages no wider than the count limit, so each answer holds its whole range whatever order the server
    // picks when it has to cut.
    for (let from = startSeq; from <= endSeq; from += BACKFILL_PAGE) {
      const to = Math.min(endSeq, from + BACKFILL_PAGE - 1);
      const { trades } = await this.history('public/get_last_trades_by_instrument', {
        instrument_name: instrument,
        start_seq: from,
        end_seq: to,
        count: to - from + 1,
        sorting: 'asc',
        include_old: true,
      });
      out.push(...trades.filter((t) => t.instrument_name === instrument && t.trade_seq >= from && t.trade_seq <= to));
    }
    return out.sort((a, b) => a.trade_seq - b.trade_seq);
  }

  /**
   * `public/get_last_trades_by_instrument_and_time`, oldest first, in pages of 1,000 from the last page's
   * newest time (trades at that millisecond come twice; the caller keeps one per trade_seq), at most
   * BACKFILL_TIME_PAGES pages.
   */
  async fetchTradesByTime(instrument: string, startTime: number, endTime: number): Promise<DeribitTrade[]> {
    const out: DeribitTrade[] = [];
    let from = startTime;
    for (let page = 0; page < BACKFILL_TIME_PAGES; page++) {
      const { trades, hasMore } = await this.history('public/get_last_trades_by_instrument_and_time', {
        instrument_name: instrument,
        start_timestamp: from,
        end_timestamp: endTime,
        count: BACKFILL_PAGE,
        sorting: 'asc',
        include_old: true,
      });
      const inRange = trades.filter(
        (t) => t.instrument_name === instrument && t.timestamp >= from && t.timestamp <= endTime,
      );
      out.push(...inRange);
      const newest = inRange.reduce((m, t) => Math.max(m, t.timestamp), from);
      if (!hasMore || inRange.length < BACKFILL_PAGE || newest <= from) break;
      from = newest;
    }
    return out.sort((a, b) => a.timestamp - b.timestamp);
  }

  private async run(): Promise<void> {
    // Reconnection attempts since the last connection that got subscribed (0 before the first connection).
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      if (attempt > 0) {
        const delayMs = Math.max(
          fullJitterDelay(attempt - 1, this.opts.reconnectBaseMs, this.opts.reconnectMaxMs, this.random),
          this.rateLimitedUntil - Date.now(),
        );
        this.emit({ type: 'reconnecting', attempt, delayMs });
        await sleep(delayMs, this.stopping.signal);
        if (this.stopping.signal.aborted) break;
      }
      this.status = 'connecting';
      const { subscribed, reason } = await this.session();
      if (!this.stopping.signal.aborted) this.emit({ type: 'disconnected', reason });
      attempt = subscribed ? 1 : attempt + 1;
    }
  }

  /** One connection, from open to close. Never throws: returns whether it got subscribed and why it ended. */
  private async session(): Promise<{ subscribed: boolean; reason: string }> {
    let conn: DeribitRpcConnection;
    try {
      conn = await DeribitRpcConnection.open(
        this.opts.url,
        this.opts.connectTimeoutMs,
        {
          onSubscription: (channel, data) => this.onSubscription(channel, data),
          onHeartbeat: (type) => this.onHeartbeat(conn, type),
          onMalformed: (reason, sample) => this.emit({ type: 'malformed', what: 'frame', reason, sample }),
          onUnsolicitedError: (error) => this.onRpcError(conn, undefined, error),
        },
        this.stopping.signal,
      );
    } catch (err) {
      return { subscribed: false, reason: `connect to ${this.opts.url} failed: ${(err as Error).message}` };
    }
    this.current = conn;
    if (this.stopping.signal.aborted) {
      await conn.close('stopping');
      return { subscribed: false, reason: 'stopping' };
    }
    this.emit({ type: 'connected', detail: this.opts.url });

    const timers: NodeJS.Timeout[] = [];
    const watchdogEvery = Math.max(20, Math.min(1_000, Math.floor(this.opts.watchdogMs / 4)));
    timers.push(
      setInterval(() => {
        const silentMs = Date.now() - conn.lastFrameAt;
        if (!conn.isPaused && silentMs > this.opts.watchdogMs) {
          conn.terminate(`watchdog: nothing received for ${silentMs} ms (DERIBIT_WATCHDOG_MS=${this.opts.watchdogMs})`);
        }
      }, watchdogEvery),
    );
    let subscribed = false;
    try {
      if (this.opts.credentials !== undefined) {
        const auth = (await this.call(conn, 'public/auth', {
          grant_type: 'client_credentials',
          client_id: this.opts.credentials.clientId,
          client_secret: this.opts.credentials.clientSecret,
        })) as AuthResult;
        this.scheduleTokenRefresh(conn, auth, timers);
      }
      await this.call(conn, 'public/set_heartbeat', { interval: this.opts.heartbeatIntervalS });
      const method = this.opts.credentials !== undefined ? 'private/subscribe' : 'public/subscribe';
      const result = await this.call(conn, method, { channels: [...this.opts.channels] });
      const channels = Array.isArray(result) ? result.filter((c): c is string => typeof c === 'string') : [];
      const notSubscribed = this.opts.channels.filter((c) => !channels.includes(c));
      if (channels.length === 0) throw new Error(`${method} subscribed to none of ${this.opts.channels.join(', ')}`);
      subscribed = true;
      this.status = 'streaming';
      this.emit({ type: 'subscribed', channels, ...(notSubscribed.length > 0 ? { notSubscribed } : {}) });
      return { subscribed, reason: await conn.closed };
    } catch (err) {
      conn.terminate((err as Error).message);
      return { subscribed, reason: await conn.closed };
    } finally {
      for (const t of timers) clearTimeout(t);
      if (this.current === conn) this.current = undefined;
      this.status = 'connecting';
    }
  }

  private scheduleTokenRefresh(conn: DeribitRpcConnection, auth: AuthResult, timers: NodeJS.Timeout[]): void {
    const expiresS = typeof auth.expires_in === 'number' ? auth.expires_in : NaN;
    const refreshToken = auth.refresh_token;
    if (!Number.isFinite(expiresS) || expiresS <= 0 || typeof refreshToken !== 'string') return;
    const timer = setTimeout(
      () => {
        this.call(conn, 'public/auth', { grant_type: 'refresh_token', refresh_token: refreshToken })
          .then((next) => this.scheduleTokenRefresh(conn, next as AuthResult, timers))
          // A connection that cannot stay authenticated is replaced by one that authenticates afresh.
          .catch((err: Error) => conn.terminate(`token refresh failed: ${err.message}`));
      },
      expiresS * 1_000 * TOKEN_REFRESH_AT,
    );
    timers.push(timer);
  }

  private onSubscription(channel: string, data: unknown): void {
    if (!isTradesChannel(channel)) {
      this.emit({
        type: 'malformed',
        what: 'frame',
        reason: `notification of unexpected channel ${channel}`,
        sample: channel,
      });
      return;
    }
    const { trades, rejected } = parseTrades(data);
    for (const r of rejected) {
      const element = r.index >= 0 && Array.isArray(data) ? data[r.index] : data;
      this.emit({ type: 'malformed', what: 'trade', reason: r.reason, sample: excerpt(element) });
    }
    if (trades.length > 0) this.deliver(trades);
  }

  /**
   * Chains deliveries so the listener sees notifications one at a time and in order, across connections
   * too: trades of a closed connection are still delivered before those of the next.
   */
  private deliver(trades: DeribitTrade[]): void {
    const listener = this.listener;
    if (listener === undefined) return;
    this.pendingDeliveries++;
    this.receivedAt.push(Date.now());
    if (this.pendingDeliveries > this.maxPending) this.current?.pause();
    this.deliveries = this.deliveries
      .then(() => listener.onTrades(trades))
      .catch(() => undefined)
      .then(() => {
        let newest = this.newest?.time ?? Number.NEGATIVE_INFINITY;
        for (const t of trades) if (t.timestamp > newest) newest = t.timestamp;
        if (newest > (this.newest?.time ?? Number.NEGATIVE_INFINITY)) this.newest = { time: newest, at: Date.now() };
        this.pendingDeliveries--;
        this.receivedAt.shift();
        if (this.pendingDeliveries <= this.maxPending / 2) this.current?.resume();
      });
  }

  private onHeartbeat(conn: DeribitRpcConnection, type: string): void {
    if (type !== TEST_REQUEST) return;
    this.call(conn, 'public/test', {}).then(
      () => this.emit({ type: 'heartbeat' }),
      // Errors were reported by call(); a connection that cannot answer heartbeats is closed by the server.
      () => undefined,
    );
  }

  /** One history request on the subscribed connection: its valid trades (invalid ones reported) and has_more. */
  private async history(
    method: string,
    params: Record<string, unknown>,
  ): Promise<{ trades: DeribitTrade[]; hasMore: boolean }> {
    const result = await this.call(this.streamingConnection(), method, params);
    const body =
      typeof result === 'object' && result !== null ? (result as { trades?: unknown; has_more?: unknown }) : {};
    const { trades, rejected } = parseTrades(body.trades);
    for (const r of rejected)
      this.emit({ type: 'malformed', what: 'trade', reason: r.reason, sample: 'back-fill answer' });
    return { trades, hasMore: body.has_more === true };
  }

  /** The connection to ask on; throws while there is none subscribed. */
  private streamingConnection(): DeribitRpcConnection {
    const conn = this.current;
    if (conn === undefined || !conn.isOpen || this.status !== 'streaming') throw new Error('not connected to Deribit');
    return conn;
  }

  /** A request on `conn`; a JSON-RPC error is reported (and acted upon) before it is rethrown. */
  private async call(conn: DeribitRpcConnection, method: string, params: Record<string, unknown>): Promise<unknown> {
    try {
      return await conn.request(method, params, this.opts.rpcTimeoutMs);
    } catch (err) {
      if (err instanceof DeribitRpcError) this.onRpcError(conn, method, { code: err.code, message: err.rpcMessage });
      throw err;
    }
  }

  private onRpcError(conn: DeribitRpcConnection, method: string | undefined, error: DeribitRpcErrorBody): void {
    const hint = HINTS[error.code];
    this.emit({ type: 'rpc-error', method, code: error.code, message: error.message, ...(hint ? { hint } : {}) });
    if (error.code === DeribitErrorCode.TooManyRequests) {
      this.rateLimitedUntil = Date.now() + this.opts.rateLimitBackoffMs;
      conn.terminate(`rate limited (${error.code} ${error.message})`);
    }
  }

  private emit(event: TradeSourceEvent): void {
    this.listener?.onEvent(event);
  }
}

function excerpt(value: unknown): string {
  try {
    return (JSON.stringify(value) ?? String(value)).slice(0, SAMPLE_CHARS);
  } catch {
    return String(value).slice(0, SAMPLE_CHARS);
  }
}
