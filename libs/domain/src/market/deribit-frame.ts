import { DeribitTrade, LIQUIDATION_SIDES, TRADE_DIRECTIONS } from './deribit-trade';

/**
 * Deribit's websocket API speaks JSON-RPC 2.0. A frame received from it is one of: the answer to a request
 * (result or error, matched by id), a subscription notification, or a heartbeat. Anything else is malformed.
 * Parsing never throws: a malformed frame is a value the caller counts and logs.
 */
export type DeribitFrame =
  | { readonly kind: 'subscription'; readonly channel: string; readonly data: unknown }
  | { readonly kind: 'heartbeat'; readonly type: string }
  | { readonly kind: 'result'; readonly id: RpcId; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: RpcId | null; readonly error: DeribitRpcErrorBody }
  | { readonly kind: 'malformed'; readonly reason: string };

export type RpcId = number | string;

export interface DeribitRpcErrorBody {
  readonly code: number;
  readonly message: string;
  readonly data?: unknown;
}

/** Error codes of Deribit's API this app reacts to. */
export const DeribitErrorCode = {
  /** Credits exhausted: Deribit ends the session; back off before reconnecting. */
  TooManyRequests: 10028,
  /** Wrong client id or secret. */
  InvalidCredentials: 13004,
  Unauthorized: 13009,
  /** `raw` trade channels are only for authenticated connections. */
  RawSubscriptionsNeedAuth: 13778,
} as const;

/** Heartbeat `type` that must be answered with `public/test`, or Deribit closes the connection. */
export const TEST_REQUEST = 'test_request';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRpcId = (v: unknown): v is RpcId => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string';

/** Classifies one text frame. */
export function parseDeribitFrame(text: string): DeribitFrame {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { kind: 'malformed', reason: 'not JSON' };
  }
  if (!isObject(msg)) return { kind: 'malformed', reason: 'not a JSON object' };

  if (msg.method === 'subscription') {
    const params = msg.params;
    if (!isObject(params) || typeof params.channel !== 'string' || params.channel === '') {
      return { kind: 'malformed', reason: 'subscription without params.channel' };
    }
    if (!('data' in params)) return { kind: 'malformed', reason: 'subscription without params.data' };
    return { kind: 'subscription', channel: params.channel, data: params.data };
  }
  if (msg.method === 'heartbeat') {
    const params = msg.params;
    if (!isObject(params) || typeof params.type !== 'string') {
      return { kind: 'malformed', reason: 'heartbeat without params.type' };
    }
    return { kind: 'heartbeat', type: params.type };
  }
  if ('error' in msg && msg.error !== undefined && msg.error !== null) {
    const error = msg.error;
    if (!isObject(error) || typeof error.code !== 'number') {
      return { kind: 'malformed', reason: 'error without a numeric code' };
    }
    const id = isRpcId(msg.id) ? msg.id : null;
    return {
      kind: 'error',
      id,
      error: {
        code: error.code,
        message: typeof error.message === 'string' ? error.message : '',
        ...(error.data !== undefined ? { data: error.data } : {}),
      },
    };
  }
  if ('result' in msg) {
    if (!isRpcId(msg.id)) return { kind: 'malformed', reason: 'result without an id' };
    return { kind: 'result', id: msg.id, result: msg.result };
  }
  if (typeof msg.method === 'string') return { kind: 'malformed', reason: `unexpected method ${msg.method}` };
  return { kind: 'malformed', reason: 'neither a result, an error nor a notification' };
}

/** True for `trades.{instrument}.{interval}` and `trades.{kind}.{currency}.{interval}` channels. */
export function isTradesChannel(channel: string): boolean {
  return channel.startsWith('trades.');
}

export type TradeParseResult =
  { readonly ok: true; readonly trade: DeribitTrade } | { readonly ok: false; readonly reason: string };

export interface ParsedTrades {
  /** Valid trades, in the order received. */
  readonly trades: DeribitTrade[];
  /** Why each invalid element was rejected (the others are kept). */
  readonly rejected: { readonly index: number; readonly reason: string }[];
}

/**
 * Validates the `data` of a trades notification, or the `trades` of a get_last_trades_* result. One bad
 * element does not spoil the others. A data that is not an array is rejected as a whole (index -1).
 */
export function parseTrades(data: unknown): ParsedTrades {
  const trades: DeribitTrade[] = [];
  const rejected: { index: number; reason: string }[] = [];
  if (!Array.isArray(data)) {
    rejected.push({ index: -1, reason: 'data is not an array' });
    return { trades, rejected };
  }
  for (let i = 0; i < data.length; i++) {
    const r = parseDeribitTrade(data[i]);
    if (r.ok) trades.push(r.trade);
    else rejected.push({ index: i, reason: r.reason });
  }
  return { trades, rejected };
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNonNegInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const absent = (v: unknown): v is null | undefined => v === undefined || v === null;

/**
 * Validates one trade and returns it with only the fields of DeribitTrade (unknown fields are dropped, so
 * what is published matches the Avro schema). A numeric trade_id is accepted and turned into its string.
 */
export function parseDeribitTrade(value: unknown): TradeParseResult {
  if (!isObject(value)) return fail('trade is not an object');
  const v = value;
  if (!isNonNegInt(v.trade_seq)) return fail('trade_seq is not a non-negative integer');
  let tradeId: string;
  if (typeof v.trade_id === 'string' && v.trade_id !== '') tradeId = v.trade_id;
  else if (isNonNegInt(v.trade_id)) tradeId = String(v.trade_id);
  else return fail('trade_id is not a non-empty string');
  if (!isNonNegInt(v.timestamp) || v.timestamp === 0) return fail('timestamp is not epoch milliseconds');
  if (!Number.isInteger(v.tick_direction) || (v.tick_direction as number) < 0 || (v.tick_direction as number) > 3) {
    return fail('tick_direction is not 0, 1, 2 or 3');
  }
  if (!isFiniteNumber(v.price)) return fail('price is not a number');
  if (!isFiniteNumber(v.mark_price)) return fail('mark_price is not a number');
  if (!isFiniteNumber(v.index_price)) return fail('index_price is not a number');
  if (typeof v.instrument_name !== 'string' || v.instrument_name === '') return fail('instrument_name is missing');
  if (!(TRADE_DIRECTIONS as readonly unknown[]).includes(v.direction)) return fail('direction is not buy or sell');
  if (!isFiniteNumber(v.amount) || v.amount <= 0) return fail('amount is not a positive number');

  const trade: DeribitTrade = {
    trade_seq: v.trade_seq,
    trade_id: tradeId,
    timestamp: v.timestamp,
    tick_direction: v.tick_direction as number,
    price: v.price,
    mark_price: v.mark_price,
    index_price: v.index_price,
    instrument_name: v.instrument_name,
    direction: v.direction as DeribitTrade['direction'],
    amount: v.amount,
  };
  if (!absent(v.contracts)) {
    if (!isFiniteNumber(v.contracts)) return fail('contracts is not a number');
    trade.contracts = v.contracts;
  }
  if (!absent(v.iv)) {
    if (!isFiniteNumber(v.iv)) return fail('iv is not a number');
    trade.iv = v.iv;
  }
  if (!absent(v.liquidation)) {
    if (!(LIQUIDATION_SIDES as readonly unknown[]).includes(v.liquidation))
      return fail('liquidation is not M, T or MT');
    trade.liquidation = v.liquidation as DeribitTrade['liquidation'];
  }
  if (!absent(v.block_trade_id)) {
    if (typeof v.block_trade_id !== 'string') return fail('block_trade_id is not a string');
    trade.block_trade_id = v.block_trade_id;
  }
  if (!absent(v.block_trade_leg_count)) {
    if (!isNonNegInt(v.block_trade_leg_count)) return fail('block_trade_leg_count is not an integer');
    trade.block_trade_leg_count = v.block_trade_leg_count;
  }
  if (!absent(v.combo_id)) {
    if (typeof v.combo_id !== 'string') return fail('combo_id is not a string');
    trade.combo_id = v.combo_id;
  }
  if (!absent(v.combo_trade_id)) {
    if (!isNonNegInt(v.combo_trade_id)) return fail('combo_trade_id is not an integer');
    trade.combo_trade_id = v.combo_trade_id;
  }
  return { ok: true, trade };
}

function fail(reason: string): TradeParseResult {
  return { ok: false, reason };
}
