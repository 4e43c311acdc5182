/**
 * One trading session on the fake Deribit in which everything that can go wrong does, shared by the
 * end-to-end tests (in-memory publisher and real Kafka):
 * - the handshake is checked: heartbeats asked (10 s, Deribit's minimum) before subscribing;
 * - duplicates: notifications sent twice;
 * - malformed input: a truncated frame, a binary frame, a data that is no array, invalid trades, an
 *   unknown channel; and an unsolicited JSON-RPC error;
 * - a gap: two trades exist on the exchange but are not sent;
 * - three dropped connections while trading goes on: a network failure, a session ended by 10028
 *   too_many_requests, and a silent hang that only the watchdog notices.
 * Every trade the exchange made must end up written once, in order per instrument.
 */
import { FakeDeribitServer } from './fake-deribit.server';

export const BTC = 'BTC-PERPETUAL';
export const ETH = 'ETH-PERPETUAL';
export const OPTION = 'BTC-27NOV26-100000-C';
export const INSTRUMENTS = [BTC, ETH, OPTION];
export const CHANNELS = [`trades.${BTC}.100ms`, 'trades.future.ETH.100ms', 'trades.option.BTC.100ms'];

/** The environment the app runs with against `server`: fast reconnects and watchdog for a short test. */
export function chaosEnv(server: FakeDeribitServer): Record<string, string> {
  return {
    TRADE_SOURCE: 'live',
    DERIBIT_WS_URL: server.url,
    DERIBIT_CHANNELS: CHANNELS.join(','),
    DERIBIT_WATCHDOG_MS: '1000',
    DERIBIT_RPC_TIMEOUT_MS: '2000',
    DERIBIT_RECONNECT_BASE_MS: '50',
    DERIBIT_RECONNECT_MAX_MS: '500',
    DERIBIT_RATE_LIMIT_BACKOFF_MS: '300',
    BACKFILL_TIMEOUT_MS: '15000',
  };
}

/** What the scenario makes the app see; the tests compare the app's metrics with it. */
export const CHAOS_EXPECTED = {
  /** Connections: the first, after the drop, after 10028, after the watchdog. */
  connections: 4,
  /** Trades sent a second time. */
  duplicates: 13,
  /** Unusable frames: the truncated one, the binary one, the unknown channel. */
  malformedFrames: 3,
  /** Unusable trades: a data that is no array, and two invalid trades. */
  malformedTrades: 3,
  /**
   * The withheld pair; BTC and ETH during the drop; ETH and the option during the hang. Or one fewer: a
   * reconnection's catch-up of ETH still waiting for its answer when the hang begins is answered after the
   * next reconnection, and finds the drop's and the hang's trades as one gap (the trades missing are the same).
   */
  gaps: 5,
  missing: 2 + 8 + 5 + 6 + 3,
};

/** Drives the fake exchange through the session; the app must be started (or starting) against it. */
export async function playChaos(server: FakeDeribitServer, check: (what: string, ok: boolean) => void): Promise<void> {
  const subscribed = (connections: number): Promise<void> =>
    server.waitFor(
      `subscription #${connections}`,
      () => server.connectionsAccepted === connections && server.subscribedConnections === 1,
    );

  await subscribed(1);
  const first = server.requests.filter((r) => r.connection === 1);
  check(
    'heartbeats asked first, at 10 s',
    first[0]?.method === 'public/set_heartbeat' && first[0].params.interval === 10,
  );
  check(
    'then the configured channels subscribed',
    first[1]?.method === 'public/subscribe' && JSON.stringify(first[1].params.channels) === JSON.stringify(CHANNELS),
  );
  await server.waitFor('test_requests answered', () => server.testRequestsAnswered >= 3);

  // Plain trading, then duplicates: the last notifications once more.
  const btc = server.trade(BTC, 30);
  server.trade(ETH, 20);
  server.trade(OPTION, 5);
  server.notify(btc.slice(-10));
  server.notify(server.trades(ETH).slice(-3));

  server.sendRaw('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.BTC-PERPETUAL.100ms","data":[{');
  server.sendRaw(Buffer.from([0x00, 0xff, 0x13]));
  server.sendRaw(notification(`trades.${BTC}.100ms`, 'oops'));
  server.sendRaw(notification(`trades.${BTC}.100ms`, [{ trade_seq: 'x', instrument_name: BTC }, { price: 1 }]));
  server.sendRaw(notification('book.BTC-PERPETUAL.100ms', {}));
  server.sendRaw(JSON.stringify({ jsonrpc: '2.0', error: { code: 11050, message: 'bad_request' } }));

  // The gap: the 3rd and 4th of these six are never sent.
  const six = server.trade(BTC, 6, { notify: false });
  server.notify(six.filter((_, i) => i !== 2 && i !== 3));

  // Drop 1, trading goes on; the next session's subscribe is answered with 10028 and closed (drop 2).
  server.failNext('public/subscribe', 10_028, 'too_many_requests', { close: true });
  server.dropAll();
  server.trade(BTC, 8);
  server.trade(ETH, 5);
  await subscribed(3);
  server.trade(BTC, 4);
  server.trade(ETH, 4);
  server.trade(OPTION, 2);

  // Drop 3: the server hangs; trades made meanwhile are only found by back-fill.
  server.silenceAll();
  server.trade(ETH, 6);
  server.trade(OPTION, 3);
  await subscribed(4);
  server.trade(BTC, 5);
  server.trade(ETH, 5);
  server.trade(OPTION, 2);
}

function notification(channel: string, data: unknown): string {
  return JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel, data } });
}
