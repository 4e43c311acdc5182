import { parseTagTime } from '../time/utc';
import { DomainError, DomainErrorCode } from '../errors';

export const ACTIONS = ['VIEW', 'BUY'] as const;
export type Action = (typeof ACTIONS)[number];

export const DEVICES = ['PC', 'MOBILE', 'TV'] as const;
export type Device = (typeof DEVICES)[number];

export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;

/** Longest text accepted in any string field of a tag, and in a cookie of a query path. */
export const MAX_TEXT_LENGTH = 256;

export interface ProductInfo {
  /** Clients send a string or a JSON integer; it is stored and returned as received. */
  product_id: string | number;
  brand_id: string;
  category_id: string;
  /** int32 */
  price: number;
}

/** One VIEW or BUY event, exactly as the client sent it (`time` keeps its original text). */
export interface UserTag {
  time: string;
  cookie: string;
  country: string;
  device: Device;
  action: Action;
  origin: string;
  product_info: ProductInfo;
}

const text = { type: 'string', minLength: 1, maxLength: MAX_TEXT_LENGTH } as const;

/** The form of a tag's `time`: the JSON schema's pattern, and checkUserTag's. */
export const TIME_PATTERN_SOURCE = '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?Z$';

/**
 * JSON Schema (draft-07) of a user tag. The gateway compiles it once for request validation and
 * publishes it in the OpenAPI document, so the docs and the checks cannot drift. The calendar check
 * of `time` (no 30 February) is done by {@link userTagEventTime}.
 */
export const userTagJsonSchema = {
  $id: 'UserTag',
  type: 'object',
  additionalProperties: false,
  required: ['time', 'cookie', 'country', 'device', 'action', 'origin', 'product_info'],
  properties: {
    time: {
      type: 'string',
      pattern: TIME_PATTERN_SOURCE,
      description: 'ISO-8601 UTC with Z, e.g. 2022-03-22T12:15:00.000Z; returned exactly as sent',
    },
    cookie: text,
    country: text,
    device: { type: 'string', enum: [...DEVICES] },
    action: { type: 'string', enum: [...ACTIONS] },
    origin: text,
    product_info: {
      type: 'object',
      additionalProperties: false,
      required: ['product_id', 'brand_id', 'category_id', 'price'],
      properties: {
        product_id: {
          oneOf: [text, { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }],
          description: 'string or integer; returned exactly as sent',
        },
        brand_id: text,
        category_id: text,
        price: { type: 'integer', minimum: INT32_MIN, maximum: INT32_MAX },
      },
    },
  },
} as const;

/** Event time of a tag in epoch ms; throws a DomainError (TIME_FORMAT) for an impossible date. */
export function userTagEventTime(tag: Pick<UserTag, 'time'>): number {
  return parseTagTime(tag.time, 'time');
}

/**
 * The event-time rule of ingest: a tag may be at most `maxFutureMs` ahead of the wall clock (the
 * clock skew allowed between clients and the gateway). A tag from further ahead would move what
 * "newest" means for retention, which keeps RETENTION_HOURS behind the newest bucket: one tag dated
 * 2099 would delete every aggregate. Throws TIME_IN_FUTURE naming `time`; returns the event time.
 */
export function admissibleEventTime(tag: Pick<UserTag, 'time'>, nowMs: number, maxFutureMs: number): number {
  const eventMs = userTagEventTime(tag);
  if (eventMs > nowMs + maxFutureMs) {
    throw new DomainError(
      DomainErrorCode.TimeInFuture,
      `time must be at most ${maxFutureMs} ms ahead of the server's clock (${new Date(nowMs).toISOString()}); got ${tag.time}`,
      'time',
    );
  }
  return eventMs;
}
