import { DeribitTrade, TradeSourceEvent, TradeSourceListener } from '@lib/domain';
import { FakeDeribitServer } from '../../../../test/raw-producer/fake-deribit.server';
import { DeribitLiveOptions, DeribitLiveSource } from './deribit-live.source';

class Recorder implements TradeSourceListener {
  readonly trades: DeribitTrade[] = [];
  readonly events: TradeSourceEvent[] = [];
  delayMs = 0;
  concurrent = 0;
  maxConcurrent = 0;

  async onTrades(trades: readonly DeribitTrade[]): Promise<void> {
    this.concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.concurrent);
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    this.trades.push(...trades);
    this.concurrent--;
  }

  onEvent(event: TradeSourceEvent): void {
    this.events.push(event);
  }

  eventsOf<T extends TradeSourceEvent['type']>(type: T): Extract<TradeSourceEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<TradeSourceEvent, { type: T }> => e.type === type);
  }
}

describe('DeribitLiveSource against a fake Deribit', () => {
  let server: FakeDeribitServer;
  let source: DeribitLiveSource | undefined;
  let rec: Recorder;

  const options = (overrides: Partial<DeribitLiveOptions> = {}): DeribitLiveOptions => ({
    url: server.url,
    channels: ['trades.BTC-PERPETUAL.100ms', 'trades.future.ETH.100ms'],
    heartbeatIntervalS: 10,
    watchdogMs: 5_000,
    connectTimeoutMs: 2_000,
    rpcTimeoutMs: 2_000,
    reconnectBaseMs: 20,
    reconnectMaxMs: 100,
    rateLimitBackoffMs: 0,
    ...overrides,
  });

  async function startSource(overrides: Partial<DeribitLiveOptions> = {}): Promise<DeribitLiveSource> {
    source = new DeribitLiveSource(options(overrides));
    await source.start(rec);
    return source;
  }

  const streaming = (): Promise<void> =>
    server.waitFor('the source to stream', () => source?.state() === 'streaming' && server.subscribedConnections === 1);

  beforeEach(async () => {
    server = await FakeDeribitServer.start({
      testRequestEveryMs: 40,
      credentials: { clientId: 'id', clientSecret: 'secret' },
    });
    rec = new Recorder();
  });

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    await server.stop();
  });

  it('asks for heartbeats, subscribes, answers test_request and delivers trades in order', async () => {
    await startSource();
    await streaming();
    expect(server.requests.map((r) => r.method).slice(0, 2)).toEqual(['public/set_heartbeat', 'public/subscribe']);
    expect(server.requestsOf('public/set_heartbeat')[0].params).toEqual({ interval: 10 });
    expect(server.requestsOf('public/subscribe')[0].params).toEqual({
      channels: ['trades.BTC-PERPETUAL.100ms', 'trades.future.ETH.100ms'],
    });
    expect(rec.eventsOf('subscribed')[0].channels).toEqual(['trades.BTC-PERPETUAL.100ms', 'trades.future.ETH.100ms']);

    const made = [
      ...server.trade('BTC-PERPETUAL', 5),
      ...server.trade('ETH-PERPETUAL', 3),
      ...server.trade('BTC-PERPETUAL', 2),
    ];
    await server.waitFor('10 trades', () => rec.trades.length === 10);
    expect(rec.trades).toEqual(made);

    await server.waitFor('3 heartbeats answered', () => server.testRequestsAnswered >= 3);
    // The source reports a heartbeat once public/test's reply is back, a moment after the server counted it.
    await server.waitFor('3 heartbeats reported', () => rec.eventsOf('heartbeat').length >= 3);
    expect(server.connectionsAccepted).toBe(1);
  });

  it('authenticates with client credentials and subscribes privately, raw channels included', async () => {
    await startSource({
      credentials: { clientId: 'id', clientSecret: 'secret' },
      channels: ['trades.BTC-PERPETUAL.raw'],
    });
    await streaming();
    expect(server.requests.map((r) => r.method).slice(0, 3)).toEqual([
      'public/auth',
      'public/set_heartbeat',
      'private/subscribe',
    ]);
    expect(server.requestsOf('public/auth')[0].params).toEqual({
      grant_type: 'client_credentials',
      client_id: 'id',
      client_secret: 'secret',
    });
  });

  it('refreshes the access token before it expires', async () => {
    await server.stop();
    server = await FakeDeribitServer.start({
      credentials: { clientId: 'id', clientSecret: 'secret' },
      tokenExpiresInS: 0.1,
    });
    await startSource({ credentials: { clientId: 'id', clientSecret: 'secret' } });
    await server.waitFor('a refresh', () =>
      server.requestsOf('public/auth').some((r) => r.params.grant_type === 'refresh_token'),
    );
    expect(server.connectionsAccepted).toBe(1);
  });

  it('reconnects after a drop, re-authenticates and resubscribes', async () => {
    await startSource({ credentials: { clientId: 'id', clientSecret: 'secret' } });
    await streaming();
    server.trade('BTC-PERPETUAL', 2);
    await server.waitFor('2 trades', () => rec.trades.length === 2);

    server.dropAll();
    await server.waitFor('a second connection', () => server.connectionsAccepted === 2);
    await streaming();
    const second = server.requests.filter((r) => r.connection === 2).map((r) => r.method);
    expect(second.slice(0, 3)).toEqual(['public/auth', 'public/set_heartbeat', 'private/subscribe']);
    expect(rec.eventsOf('disconnected')).toHaveLength(1);
    expect(rec.eventsOf('reconnecting')).toEqual([{ type: 'reconnecting', attempt: 1, delayMs: expect.any(Number) }]);

    server.trade('BTC-PERPETUAL', 2);
    await server.waitFor('4 trades', () => rec.trades.length === 4);
    expect(rec.trades.map((t) => t.trade_seq)).toEqual([1000, 1001, 1002, 1003]);
  });

  it("has a watermark while subscribed: the feed's newest trade time moved on at wall pace, held while a notification waits", async () => {
    let hold: Promise<void> | undefined;
    rec.onTrades = (trades) => {
      rec.trades.push(...trades);
      return hold ?? Promise.resolve();
    };
    await startSource();
    await streaming();
    expect(source!.watermark()).toBeUndefined(); // no trade yet: the exchange's clock is unknown

    // The fake exchange's clock is days behind the wall clock: the watermark follows the exchange's.
    const [first] = server.trade('BTC-PERPETUAL', 1);
    await server.waitFor('the first trade', () => rec.trades.length === 1);
    await new Promise((r) => setTimeout(r, 10));
    const w1 = source!.watermark()!;
    expect(w1).toBeGreaterThanOrEqual(first.timestamp);
    expect(w1).toBeLessThan(first.timestamp + 1_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(source!.watermark()! - w1).toBeGreaterThanOrEqual(90);

    let release: () => void = () => undefined;
    hold = new Promise<void>((r) => (release = r));
    server.advanceClock(60_000);
    const [second] = server.trade('BTC-PERPETUAL', 1);
    await server.waitFor('the second trade (held by the listener)', () => rec.trades.length === 2);
    const [third] = server.trade('BTC-PERPETUAL', 1); // received, waiting behind the second
    await new Promise((r) => setTimeout(r, 100));
    expect(source!.watermark()).toBe(first.timestamp);
    hold = undefined;
    release();
    await server.waitFor('the third handed over', () => rec.trades.length === 3);
    await new Promise((r) => setTimeout(r, 10));
    expect(source!.watermark()).toBeGreaterThanOrEqual(third.timestamp);
    expect(third.timestamp).toBeGreaterThan(second.timestamp);

    server.refuseConnections(true);
    server.dropAll();
    await server.waitFor('disconnected', () => source?.state() === 'connecting');
    expect(source!.watermark()).toBeUndefined();
  });

  it("fetches an instrument's trades by time range, for when trade_seq queries do not reach", async () => {
    await startSource();
    await streaming();
    const made = server.trade('BTC-PERPETUAL', 30, { notify: false });
    server.history = 'by-time-only';
    expect(await source!.fetchTrades('BTC-PERPETUAL', made[0].trade_seq, made[29].trade_seq)).toEqual([]);
    const got = await source!.fetchTradesByTime('BTC-PERPETUAL', made[5].timestamp, made[20].timestamp);
    expect(got).toEqual(made.slice(5, 21));
    expect(server.requestsOf('public/get_last_trades_by_instrument_and_time')[0].params).toEqual({
      instrument_name: 'BTC-PERPETUAL',
      start_timestamp: made[5].timestamp,
      end_timestamp: made[20].timestamp,
      count: 1_000,
      sorting: 'asc',
      include_old: true,
    });
  });

  it('reconnects when the watchdog finds the line silent', async () => {
    await startSource({ watchdogMs: 300 });
    await streaming();
    server.silenceAll();
    await server.waitFor('a new connection', () => server.connectionsAccepted === 2, 5_000);
    await streaming();
    expect(rec.eventsOf('disconnected')[0].reason).toMatch(/^watchdog: nothing received for \d+ ms/);
  });

  it('keeps backing off while connections fail, with growing but capped delays', async () => {
    const opts = options({ reconnectBaseMs: 10, reconnectMaxMs: 40, random: () => 0.999 });
    await server.stop();
    source = new DeribitLiveSource(opts);
    await source.start(rec);
    await server.waitFor('5 attempts', () => rec.eventsOf('reconnecting').length >= 5);
    const delays = rec.eventsOf('reconnecting').map((e) => e.delayMs);
    expect(delays.slice(0, 5)).toEqual([9, 19, 39, 39, 39]);
    expect(
      rec
        .eventsOf('reconnecting')
        .map((e) => e.attempt)
        .slice(0, 3),
    ).toEqual([1, 2, 3]);
    expect(rec.eventsOf('disconnected')[0].reason).toMatch(/^connect to ws:\/\/127\.0\.0\.1:\d+\/ws\/api\/v2 failed/);
    expect(source.state()).toBe('connecting');
    // Restarted for afterEach.
    server = await FakeDeribitServer.start();
  });

  it('backs off at least DERIBIT_RATE_LIMIT_BACKOFF_MS after 10028 too_many_requests', async () => {
    server.failNext('public/subscribe', 10028, 'too_many_requests', { close: true });
    await startSource({ rateLimitBackoffMs: 400 });
    await streaming();
    const [error] = rec.eventsOf('rpc-error');
    expect(error).toMatchObject({ method: 'public/subscribe', code: 10028, message: 'too_many_requests' });
    expect(error.hint).toMatch(/rate limit/);
    const [reconnect] = rec.eventsOf('reconnecting');
    expect(reconnect.delayMs).toBeGreaterThanOrEqual(350);
    const subscribes = server.requestsOf('public/subscribe');
    expect(subscribes[1].at - subscribes[0].at).toBeGreaterThanOrEqual(350);
  });

  it('explains 13778 (raw channels without auth) and keeps retrying', async () => {
    await startSource({ channels: ['trades.BTC-PERPETUAL.raw'] });
    await server.waitFor('two failed subscriptions', () => rec.eventsOf('rpc-error').length >= 2);
    const [error] = rec.eventsOf('rpc-error');
    expect(error).toMatchObject({ code: 13778, method: 'public/subscribe' });
    expect(error.hint).toContain('DERIBIT_CLIENT_ID');
    expect(source?.state()).toBe('connecting');
  });

  it('reports malformed frames and trades, and keeps delivering the valid ones', async () => {
    await startSource();
    await streaming();
    server.sendRaw('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":');
    server.sendRaw(Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    server.sendRaw(
      '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":"oops"}}',
    );
    const [good] = server.trade('BTC-PERPETUAL', 1, { notify: false });
    server.sendRaw(
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'subscription',
        params: { channel: 'trades.BTC-PERPETUAL.100ms', data: [{ ...good, trade_id: 'x', price: 'high' }, good] },
      }),
    );
    await server.waitFor('the good trade', () => rec.trades.length === 1);
    expect(rec.trades).toEqual([good]);
    expect(rec.eventsOf('malformed').map((e) => [e.what, e.reason])).toEqual([
      ['frame', 'not JSON'],
      ['frame', 'binary frame'],
      ['trade', 'data is not an array'],
      ['trade', 'price is not a number'],
    ]);
    expect(source?.state()).toBe('streaming');
    expect(server.connectionsAccepted).toBe(1);
  });

  it('reports an unsolicited JSON-RPC error without dropping the connection', async () => {
    await startSource();
    await streaming();
    server.sendRaw('{"jsonrpc":"2.0","error":{"code":11050,"message":"bad_request"}}');
    await server.waitFor('the error event', () => rec.eventsOf('rpc-error').length === 1);
    expect(rec.eventsOf('rpc-error')[0]).toEqual({
      type: 'rpc-error',
      method: undefined,
      code: 11050,
      message: 'bad_request',
    });
    expect(source?.state()).toBe('streaming');
  });

  it('fetches a range of trades over several pages, ascending', async () => {
    await startSource();
    await streaming();
    server.trade('ETH-PERPETUAL', 2_500, { notify: false });
    const fetched = await source!.fetchTrades('ETH-PERPETUAL', 1_010, 3_400);
    expect(fetched.map((t) => t.trade_seq)).toEqual(Array.from({ length: 2_391 }, (_, i) => 1_010 + i));
    expect(
      server.requestsOf('public/get_last_trades_by_instrument').map((r) => [r.params.start_seq, r.params.end_seq]),
    ).toEqual([
      [1_010, 2_009],
      [2_010, 3_009],
      [3_010, 3_400],
    ]);
  });

  it('refuses to fetch while not connected', async () => {
    await startSource({ url: 'ws://127.0.0.1:1/nowhere' });
    await expect(source!.fetchTrades('BTC-PERPETUAL', 1, 2)).rejects.toThrow('not connected');
  });

  it('hands notifications to the listener one at a time', async () => {
    rec.delayMs = 5;
    await startSource();
    await streaming();
    for (let i = 0; i < 20; i++) server.trade('BTC-PERPETUAL', 1);
    await server.waitFor('20 trades', () => rec.trades.length === 20);
    expect(rec.maxConcurrent).toBe(1);
    expect(rec.trades.map((t) => t.trade_seq)).toEqual(Array.from({ length: 20 }, (_, i) => 1_000 + i));
  });

  it('stops at once while a connection attempt hangs', async () => {
    // A listening socket that never answers the HTTP upgrade.
    const { createServer } = await import('node:net');
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      await startSource({ url: `ws://127.0.0.1:${port}/`, connectTimeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 50));
      const started = Date.now();
      await source!.stop();
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      silent.close();
    }
  });

  it('stops: closes the connection and calls the listener no more', async () => {
    await startSource();
    await streaming();
    await source!.stop();
    expect(source!.state()).toBe('idle');
    await server.waitFor('the connection to close', () => server.subscribedConnections === 0);
    server.trade('BTC-PERPETUAL', 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(rec.trades).toEqual([]);
    expect(server.connectionsAccepted).toBe(1);
  });
});
