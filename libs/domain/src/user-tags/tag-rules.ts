import { DomainError, DomainErrorCode } from '../errors';
import {
  ACTIONS,
  DEVICES,
  INT32_MAX,
  INT32_MIN,
  MAX_TEXT_LENGTH,
  TIME_PATTERN_SOURCE,
  UserTag,
  userTagEventTime,
} from './user-tag';

const TIME_PATTERN = new RegExp(TIME_PATTERN_SOURCE);

/**
 * The JSON text of a tag with its fields in one fixed order. It is both what the PostgreSQL profile
 * store keeps (the tag as received: `time` text and product_id's JSON type survive, since a string "7"
 * and a number 7 serialise differently) and what a tag's digest is taken over, so "equal in every
 * field" and "same digest" mean the same thing whatever key order the tag object had.
 */
export function canonicalTagJson(tag: UserTag): string {
  const p = tag.product_info;
  return JSON.stringify({
    time: tag.time,
    cookie: tag.cookie,
    country: tag.country,
    device: tag.device,
    action: tag.action,
    origin: tag.origin,
    product_info: { product_id: p.product_id, brand_id: p.brand_id, category_id: p.category_id, price: p.price },
  });
}

/**
 * Most bytes (UTF-8) a tag's canonical JSON may take. A profile holds up to 200 tags per action in
 * one Aerospike record, which must stay within a record limit (the adapter assumes 2 MiB, and its
 * encoding of a tag is smaller than this JSON: aerospike-profile.codec.spec.ts shows 400 of the
 * largest admissible tags fit), so every tag needs a bound: 256 characters per field is not one,
 * since a control character or an unpaired surrogate takes 6 bytes in JSON (`\u0001`). Every tag
 * whose fields hold no control characters and no unpaired surrogates fits, at 256 characters per
 * field of any script (at most 3 bytes a character, or 2 for an escaped `"` or `\`: about 4,800 bytes).
 */
export const MAX_TAG_JSON_BYTES = 5_120;

/** Most bytes JSON gives one UTF-16 unit (`\uXXXX`), and an upper bound of the rest of the text. */
const MAX_JSON_BYTES_PER_UNIT = 6;
const MAX_JSON_FRAME_BYTES = 200;

function textUnits(tag: UserTag): number {
  const p = tag.product_info;
  return (
    tag.time.length +
    tag.cookie.length +
    tag.country.length +
    tag.origin.length +
    (typeof p.product_id === 'string' ? p.product_id.length : 0) +
    p.brand_id.length +
    p.category_id.length
  );
}

/** Throws TAG_TOO_LARGE when the tag's canonical JSON exceeds MAX_TAG_JSON_BYTES. */
export function assertTagSize(tag: UserTag): void {
  // Usual tags are short: a bound from the lengths alone spares serialising them.
  if (textUnits(tag) * MAX_JSON_BYTES_PER_UNIT + MAX_JSON_FRAME_BYTES <= MAX_TAG_JSON_BYTES) return;
  const bytes = Buffer.byteLength(canonicalTagJson(tag));
  if (bytes > MAX_TAG_JSON_BYTES) {
    throw new DomainError(
      DomainErrorCode.TagTooLarge,
      `the tag takes ${bytes} bytes as JSON, more than ${MAX_TAG_JSON_BYTES}: shorten its text fields ` +
        '(a control character or an unpaired surrogate takes 6 bytes, other non-ASCII characters 2 to 4)',
    );
  }
}

/**
 * Every rule of ingest but the clock's (TIME_IN_FUTURE): what the gateway's JSON schema and size
 * check enforce, for a tag that reached the topic some other way (another producer, an older gateway).
 * The pipeline dead-letters a consumed tag that breaks one, instead of storing it or retrying forever.
 * Throws a DomainError naming the field.
 */
export function checkUserTag(tag: UserTag): void {
  const invalid = (field: string, message: string): never => {
    throw new DomainError(DomainErrorCode.InvalidUserTag, `${field} ${message}`, field);
  };
  const text = (field: string, value: unknown): void => {
    if (typeof value !== 'string') invalid(field, 'must be a string');
    const s = value as string;
    if (s.length < 1 || s.length > MAX_TEXT_LENGTH) {
      invalid(field, `must be 1 to ${MAX_TEXT_LENGTH} characters long, got ${s.length}`);
    }
  };
  text('cookie', tag.cookie);
  text('country', tag.country);
  text('origin', tag.origin);
  if (!(DEVICES as readonly string[]).includes(tag.device)) invalid('device', `must be one of ${DEVICES.join(', ')}`);
  if (!(ACTIONS as readonly string[]).includes(tag.action)) invalid('action', `must be one of ${ACTIONS.join(', ')}`);
  const p = tag.product_info;
  if (typeof p.product_id === 'number') {
    if (!Number.isSafeInteger(p.product_id)) invalid('product_info.product_id', 'must be a safe integer');
  } else {
    text('product_info.product_id', p.product_id);
  }
  text('product_info.brand_id', p.brand_id);
  text('product_info.category_id', p.category_id);
  if (!Number.isInteger(p.price) || p.price < INT32_MIN || p.price > INT32_MAX) {
    invalid('product_info.price', 'must be a 32-bit integer');
  }
  if (!TIME_PATTERN.test(tag.time)) invalid('time', `must be ISO-8601 UTC with Z, got ${JSON.stringify(tag.time)}`);
  userTagEventTime(tag);
  assertTagSize(tag);
}
