/**
 * A local stand-in for Deribit's websocket JSON-RPC API, for tests: the subset raw-producer uses, with the
 * rules that matter (raw channels need auth, heartbeats must be answered, subscriptions belong to a
 * connection), an exchange that numbers trades per instrument, and knobs to misbehave on cue.
 */
import { AddressInfo } from 'node:net';
import { DeribitTrade } from '@lib/domain';
import { WebSocket, WebSocketServer } from 'ws';

export interface FakeDeribitOptions {
  /** Accepted by public/auth (client_credentials); without it every auth fails with 13004. */
  credentials?: { clientId: string; clientSecret: string };
  /**
   * How often a connection that called public/set_heartbeat gets a test_request. Deribit uses the asked
   * interval (>= 10 s); tests want faster.
   */
  testRequestEveryMs?: number;
  /** A test_request unanswered for this long closes the connection, as Deribit does. */
  testRequestTimeoutMs?: number;
  /** expires_in of access tokens, seconds. */
  tokenExpiresInS?: number;
  /**
   * Event time between consecutive trades of the exchange: 1 to this many ms, at random (default 50).
   * Larger gaps make one-minute windows hold fewer trades.
   */
  maxTradeGapMs?: number;
  /** Trades are stamped with the wall clock (at least 1 ms after the previous one) instead of a simulated one. */
  realTime?: boolean;
}

export interface RecordedRequest {
  /** 1 for the first connection accepted, 2 for the next... */
  readonly connection: number;
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly at: number;
}

interface Conn {
  readonly n: number;
  readonly ws: WebSocket;
  readonly channels: Set<string>;
  authenticated: boolean;
  /** Neither answers nor sends anything: a hung server, for the client's watchdog. */
  silent: boolean;
  heartbeat?: NodeJS.Timeout;
  awaitingTest: number | undefined;
}

interface ScriptedError {
  code: number;
  message: string;
  /** Close the connection right after the error (Deribit does for 10028). */
  close: boolean;
}

const RAW_NEEDS_AUTH = { code: 13778, message: 'raw_subscriptions_not_available_for_unauthorized' };

/** Deribit's kind of an instrument, as used in trades.{kind}.{currency}.{interval} channels. */
export function kindOf(instrument: string): string {
  if (/-[CP]$/.test(instrument)) return 'option';
  if (instrument.includes('_')) return 'spot';
  return 'future';
}

/** Whether a trade of `instrument` is delivered on `channel`. */
export function channelMatches(channel: string, instrument: string): boolean {
  const parts = channel.split('.');
  if (parts[0] !== 'trades') return false;
  if (parts.length === 3) return parts[1] === instrument;
  if (parts.length === 4) {
    const currency = instrument.split(/[-_]/)[0];
    return parts[1] === kindOf(instrument) && (parts[2] === 'any' || parts[2] === currency);
  }
  return false;
}

/** A deterministic pseudo-random sequence (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class FakeDeribitServer {
  /** Every request received, in order (requests ignored while silent included). */
  readonly requests: RecordedRequest[] = [];
  testRequestsSent = 0;
  testRequestsAnswered = 0;
  connectionsAccepted = 0;

  private readonly conns = new Set<Conn>();
  private readonly log = new Map<string, DeribitTrade[]>();
  private readonly scripted = new Map<string, ScriptedError[]>();
  private readonly random = prng(20261121);
  private nextTradeId = 300_000_000;
  private clock = Date.UTC(2026, 10, 20, 14, 0, 0);
  private refusing = false;

  private constructor(
    private readonly wss: WebSocketServer,
    private readonly opts: FakeDeribitOptions,
  ) {
    wss.on('connection', (ws) => this.accept(ws));
  }

  static async start(opts: FakeDeribitOptions = {}): Promise<FakeDeribitServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
    return new FakeDeribitServer(wss, opts);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/ws/api/v2`;
  }

  /** Connections currently subscribed to at least one channel. */
  get subscribedConnections(): number {
    return [...this.conns].filter((c) => c.channels.size > 0 && c.ws.readyState === WebSocket.OPEN).length;
  }

  requestsOf(method: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method);
  }

  /** Every trade the exchange made for `instrument`, in trade_seq order. */
  trades(instrument: string): DeribitTrade[] {
    return [...(this.log.get(instrument) ?? [])];
  }

  allTrades(): DeribitTrade[] {
    return [...this.log.values()].flat();
  }

  /**
   * The exchange makes `n` trades of `instrument` (trade_seq continuing its log) and notifies subscribers
   * of all of them but those whose trade_seq is in `withhold` (they exist, so back-fill finds them).
   * Returns the trades made.
   */
  trade(instrument: string, n: number, opts: { withhold?: readonly number[]; notify?: boolean } = {}): DeribitTrade[] {
    const made = Array.from({ length: n }, () => this.makeTrade(instrument));
    if (opts.notify !== false) {
      const withhold = new Set(opts.withhold ?? []);
      this.notify(made.filter((t) => !withhold.has(t.trade_seq)));
    }
    return made;
  }

  /** Moves the exchange's clock on: the next trade is at least `ms` later than the last. */
  advanceClock(ms: number): void {
    this.clock += ms;
  }

  /** Sends trades (new or old: re-sending makes duplicates) to every subscriber of a matching channel. */
  notify(trades: readonly DeribitTrade[]): void {
    for (const c of this.openConns()) {
      for (const channel of c.channels) {
        const data = trades.filter((t) => channelMatches(channel, t.instrument_name));
        if (data.length > 0) this.send(c, { jsonrpc: '2.0', method: 'subscription', params: { channel, data } });
      }
    }
  }

  /** Sends a frame as is (text, or binary for a Buffer) to every subscribed connection. */
  sendRaw(frame: string | Buffer): void {
    for (const c of this.openConns()) if (c.channels.size > 0) c.ws.send(frame, { binary: Buffer.isBuffer(frame) });
  }

  /** The next request of `method` fails with this JSON-RPC error (queued: one per call). */
  failNext(method: string, code: number, message: string, opts: { close?: boolean } = {}): void {
    const queue = this.scripted.get(method) ?? [];
    queue.push({ code, message, close: opts.close ?? false });
    this.scripted.set(method, queue);
  }

  /** Drops every connection without a closing handshake (a network failure, as the client sees it). */
  dropAll(): void {
    for (const c of this.conns) c.ws.terminate();
  }

  /**
   * What history queries answer: everything (`full`); nothing by trade_seq but everything by time
   * (`by-time-only`: sequence numbers that do not reach); nothing at all (`none`: trades the server no
   * longer has, or not yet).
   */
  history: 'full' | 'by-time-only' | 'none' = 'full';

  /** While on, new connections are closed at once (an exchange or network outage); trading goes on. */
  refuseConnections(on: boolean): void {
    this.refusing = on;
  }

  /** Current connections go quiet: no answers, no heartbeats, no notifications. New ones behave. */
  silenceAll(): void {
    for (const c of this.conns) {
      c.silent = true;
      clearInterval(c.heartbeat);
    }
  }

  async waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`fake Deribit: timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    for (const c of this.conns) {
      clearInterval(c.heartbeat);
      c.ws.terminate();
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private openConns(): Conn[] {
    return [...this.conns].filter((c) => !c.silent && c.ws.readyState === WebSocket.OPEN);
  }

  private makeTrade(instrument: string): DeribitTrade {
    const log = this.log.get(instrument) ?? [];
    this.log.set(instrument, log);
    const prev = log[log.length - 1];
    const isEth = instrument.startsWith('ETH');
    const isOption = kindOf(instrument) === 'option';
    const basePrice = isOption ? 0.05 : isEth ? 3_400 : 97_000;
    const tick = isOption ? 0.0005 : isEth ? 0.05 : 0.5;
    const price =
      prev === undefined
        ? basePrice
        : Math.max(tick, Math.round((prev.price + (this.random() - 0.5) * 20 * tick) / tick) * tick);
    this.clock = this.opts.realTime
      ? Math.max(this.clock + 1, Date.now())
      : this.clock + 1 + Math.floor(this.random() * (this.opts.maxTradeGapMs ?? 50));
    const id = this.nextTradeId++;
    const trade: DeribitTrade = {
      trade_seq: prev === undefined ? 1_000 : prev.trade_seq + 1,
      trade_id: isEth ? `ETH-${id}` : String(id),
      timestamp: this.clock,
      tick_direction: prev === undefined ? 0 : price > prev.price ? 0 : price < prev.price ? 2 : 1,
      price: Number(price.toFixed(4)),
      mark_price: Number((price * (1 + (this.random() - 0.5) * 1e-4)).toFixed(4)),
      index_price: Number((isOption ? 97_000 : price * (1 - 2e-4)).toFixed(2)),
      instrument_name: instrument,
      direction: this.random() < 0.5 ? 'buy' : 'sell',
      amount: isOption
        ? 0.1 * (1 + Math.floor(this.random() * 20))
        : isEth
          ? 1 + Math.floor(this.random() * 5_000)
          : 10 * (1 + Math.floor(this.random() * 500)),
    };
    trade.contracts = isOption || isEth ? trade.amount : trade.amount / 10;
    if (isOption) trade.iv = Number((45 + this.random() * 10).toFixed(2));
    log.push(trade);
    return trade;
  }

  private accept(ws: WebSocket): void {
    if (this.refusing) {
      ws.terminate();
      return;
    }
    const conn: Conn = {
      n: ++this.connectionsAccepted,
      ws,
      channels: new Set(),
      authenticated: false,
      silent: false,
      awaitingTest: undefined,
    };
    this.conns.add(conn);
    ws.on('message', (data) => this.onRequest(conn, data.toString()));
    ws.on('close', () => {
      clearInterval(conn.heartbeat);
      this.conns.delete(conn);
    });
    ws.on('error', () => undefined);
  }

  private onRequest(c: Conn, text: string): void {
    let req: { id?: unknown; method?: unknown; params?: unknown };
    try {
      req = JSON.parse(text) as typeof req;
    } catch {
      this.send(c, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' } });
      return;
    }
    const method = typeof req.method === 'string' ? req.method : '';
    const params = (typeof req.params === 'object' && req.params !== null ? req.params : {}) as Record<string, unknown>;
    this.requests.push({ connection: c.n, method, params, at: Date.now() });
    if (c.silent) return;
    const id = req.id;
    const answer = (result: unknown): void =>
      this.send(c, {
        jsonrpc: '2.0',
        id,
        result,
        usIn: Date.now() * 1_000,
        usOut: Date.now() * 1_000,
        usDiff: 40,
        testnet: false,
      });
    const fail = (error: { code: number; message: string }): void =>
      this.send(c, {
        jsonrpc: '2.0',
        id,
        error,
        usIn: Date.now() * 1_000,
        usOut: Date.now() * 1_000,
        usDiff: 40,
        testnet: false,
      });

    const scripted = this.scripted.get(method)?.shift();
    if (scripted !== undefined) {
      fail({ code: scripted.code, message: scripted.message });
      if (scripted.close) setTimeout(() => c.ws.close(1000, scripted.message), 5);
      return;
    }

    switch (method) {
      case 'public/auth':
        return this.auth(c, params, answer, fail);
      case 'public/set_heartbeat': {
        const interval = params.interval;
        if (typeof interval !== 'number' || interval < 10) {
          return fail({ code: -32602, message: 'Invalid params: interval must be >= 10' });
        }
        this.startHeartbeats(c, interval);
        return answer('ok');
      }
      case 'public/test':
        if (c.awaitingTest !== undefined) {
          c.awaitingTest = undefined;
          this.testRequestsAnswered++;
        }
        return answer({ version: '1.2.26' });
      case 'public/subscribe':
      case 'private/subscribe': {
        if (method === 'private/subscribe' && !c.authenticated) return fail({ code: 13009, message: 'unauthorized' });
        const channels = Array.isArray(params.channels)
          ? params.channels.filter((x): x is string => typeof x === 'string')
          : [];
        if (!c.authenticated && channels.some((ch) => ch.endsWith('.raw'))) return fail(RAW_NEEDS_AUTH);
        for (const ch of channels) c.channels.add(ch);
        return answer(channels);
      }
      case 'public/get_last_trades_by_instrument':
        return answer(this.history === 'full' ? this.lastTrades(params) : { trades: [], has_more: false });
      case 'public/get_last_trades_by_instrument_and_time':
        return answer(this.history === 'none' ? { trades: [], has_more: false } : this.lastTradesByTime(params));
      default:
        return fail({ code: -32601, message: 'Method not found' });
    }
  }

  private auth(
    c: Conn,
    params: Record<string, unknown>,
    answer: (r: unknown) => void,
    fail: (e: { code: number; message: string }) => void,
  ): void {
    const creds = this.opts.credentials;
    const ok =
      creds !== undefined &&
      ((params.grant_type === 'client_credentials' &&
        params.client_id === creds.clientId &&
        params.client_secret === creds.clientSecret) ||
        (params.grant_type === 'refresh_token' &&
          typeof params.refresh_token === 'string' &&
          params.refresh_token.startsWith('refresh-')));
    if (!ok) return fail({ code: 13004, message: 'invalid_credentials' });
    c.authenticated = true;
    answer({
      access_token: `access-${c.n}-${Date.now()}`,
      refresh_token: `refresh-${c.n}-${Date.now()}`,
      expires_in: this.opts.tokenExpiresInS ?? 900,
      token_type: 'bearer',
      scope: 'connection mainaccount',
    });
  }

  private startHeartbeats(c: Conn, intervalS: number): void {
    clearInterval(c.heartbeat);
    const every = this.opts.testRequestEveryMs ?? intervalS * 1_000;
    const timeout = this.opts.testRequestTimeoutMs ?? every * 2;
    c.heartbeat = setInterval(() => {
      if (c.silent || c.ws.readyState !== WebSocket.OPEN) return;
      if (c.awaitingTest !== undefined && Date.now() - c.awaitingTest > timeout) {
        c.ws.close(1000, 'heartbeat not answered');
        return;
      }
      if (c.awaitingTest === undefined) c.awaitingTest = Date.now();
      this.testRequestsSent++;
      this.send(c, { jsonrpc: '2.0', method: 'heartbeat', params: { type: 'test_request' } });
    }, every);
  }

  private lastTradesByTime(params: Record<string, unknown>): { trades: DeribitTrade[]; has_more: boolean } {
    const log = this.log.get(String(params.instrument_name)) ?? [];
    const start = typeof params.start_timestamp === 'number' ? params.start_timestamp : -Infinity;
    const end = typeof params.end_timestamp === 'number' ? params.end_timestamp : Infinity;
    const count = typeof params.count === 'number' ? params.count : 10;
    const inRange = log.filter((t) => t.timestamp >= start && t.timestamp <= end);
    return { trades: inRange.slice(0, count), has_more: inRange.length > count };
  }

  private lastTrades(params: Record<string, unknown>): { trades: DeribitTrade[]; has_more: boolean } {
    const log = this.log.get(String(params.instrument_name)) ?? [];
    const start = typeof params.start_seq === 'number' ? params.start_seq : -Infinity;
    const end = typeof params.end_seq === 'number' ? params.end_seq : Infinity;
    const count = typeof params.count === 'number' ? params.count : 10;
    const inRange = log.filter((t) => t.trade_seq >= start && t.trade_seq <= end);
    return { trades: inRange.slice(0, count), has_more: inRange.length > count };
  }

  private send(c: Conn, msg: unknown): void {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  }
}
