import { DeribitTrade } from '../market/deribit-trade';

/**
 * What a source reports besides trades, for logs and metrics. Events are informational: none of them
 * asks the listener to do anything, and a listener that ignores them loses no trade.
 */
export type TradeSourceEvent =
  /** A connection is open (live) or the file is open (replay). */
  | { readonly type: 'connected'; readonly detail: string }
  /**
   * Subscribed to `channels` (live), or started a pass over the file (replay; `pass` counts from 0).
   * `notSubscribed` lists requested channels the server left out of its answer (unknown instruments...).
   */
  | {
      readonly type: 'subscribed';
      readonly channels: readonly string[];
      readonly notSubscribed?: readonly string[];
      readonly pass?: number;
    }
  /** The connection ended; `reason` says why (closed by the server, watchdog, rate limit, error...). */
  | { readonly type: 'disconnected'; readonly reason: string }
  /** The next connection attempt starts after `delayMs`; `attempt` counts failures since the last success. */
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delayMs: number }
  /** A frame or trade that could not be used; it was skipped. `sample` is a bounded excerpt. */
  | { readonly type: 'malformed'; readonly what: 'frame' | 'trade'; readonly reason: string; readonly sample: string }
  /** The server answered a request (or sent, unsolicited) a JSON-RPC error. `hint` explains known codes. */
  | {
      readonly type: 'rpc-error';
      readonly method: string | undefined;
      readonly code: number;
      readonly message: string;
      readonly hint?: string;
    }
  /** A `test_request` heartbeat was answered. */
  | { readonly type: 'heartbeat' }
  /** The source delivered everything it had (a replay without loop) and will deliver nothing more. */
  | { readonly type: 'finished' };

/** Receives what a source produces. */
export interface TradeSourceListener {
  /**
   * Valid trades of one notification (or of consecutive ones, when a replay runs ahead of its schedule),
   * in the order received. The source does not call again until the returned promise settles: that is
   * how the listener applies backpressure. The promise must not reject.
   */
  onTrades(trades: readonly DeribitTrade[]): Promise<void>;
  /** Must not throw. */
  onEvent(event: TradeSourceEvent): void;
}

export type TradeSourceState =
  /** Not started, or stopped. */
  | 'idle'
  /** Connecting, authenticating, subscribing, or waiting to reconnect. */
  | 'connecting'
  /** Subscribed (live) or replaying. */
  | 'streaming'
  /** A replay without loop reached the end of its file. */
  | 'finished';

/**
 * A stream of Deribit trades.
 *
 * Contract:
 * - Trades reach the listener in the order the source received them; a source never reorders the trades
 *   of one instrument. It does not deduplicate or fill gaps: re-deliveries (overlapping channels, replays
 *   after a reconnect) and trade_seq gaps (trades made while disconnected) are the listener's business.
 * - Malformed input is reported as a `malformed` event and skipped; it never stops the source.
 * - Connection failures are retried by the source for as long as it runs (live: reconnect with capped
 *   exponential backoff, re-authenticate and resubscribe); the listener only sees events.
 * - `start` resolves once the source is running (not once connected) and rejects only for a problem
 *   retrying cannot fix (a replay file that cannot be read). `stop` resolves once no more listener calls
 *   will be made and every resource is released; it is idempotent.
 * - `fetchTrades` (when `supportsBackfill`) returns the instrument's trades with trade_seq in
 *   [startSeq, endSeq] that the source can still obtain, ascending by trade_seq, possibly fewer (trades the
 *   server no longer has are missing from the answer, not an error). It rejects when the source cannot ask
 *   right now (not connected, timeout, server error); asking again later may succeed.
 */
export abstract class TradeSource {
  abstract start(listener: TradeSourceListener): Promise<void>;
  abstract stop(): Promise<void>;
  abstract state(): TradeSourceState;
  /**
   * The source's watermark (epoch ms): every trade it will still deliver has a later timestamp, as far as
   * the source can tell. Live: the exchange's clock as the feed shows it while subscribed (the newest trade
   * time delivered, moved on at wall pace; the feed's latency is left to the readers' grace), undefined while
   * not connected; a listener that fills gaps holds it back meanwhile. Replay: the
   * newest timestamp delivered, and the recording's own clock while it waits between notifications.
   * Undefined before the first trade, or when the source cannot say.
   */
  abstract watermark(): number | undefined;
  /** Whether `fetchTrades` can be used to fill gaps. */
  abstract readonly supportsBackfill: boolean;
  abstract fetchTrades(instrument: string, startSeq: number, endSeq: number): Promise<DeribitTrade[]>;
  /**
   * The fallback of `fetchTrades` when sequence numbers do not reach: the instrument's trades with a
   * timestamp in [startTime, endTime] (epoch ms) that the source can still obtain, ascending by time, possibly
   * fewer; rejects as `fetchTrades` does (and always when `supportsBackfill` is false).
   */
  abstract fetchTradesByTime(instrument: string, startTime: number, endTime: number): Promise<DeribitTrade[]>;
}
