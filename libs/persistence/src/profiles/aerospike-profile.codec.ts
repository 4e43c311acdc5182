import {
  Action,
  ACTIONS,
  canonicalTagJson,
  DEVICES,
  formatUtcMillis,
  TimeRange,
  UserTag,
  userTagEventTime,
} from '@lib/domain';
import { maps, MapPolicy, operations } from 'aerospike';
import { tagDigestHex } from './tag-identity';

/**
 * How a profile lives in Aerospike: one record per cookie (the user key), one bin per action, each
 * bin a KEY_ORDERED map from an event-time key to a compact encoding of the tag.
 *
 * Map key: `<event time, 15 zero-padded digits>:<16 hex digits of tag digest>`. Fixed width, so text
 * order is time order, then digest order among tags of one millisecond (the fixed tie order the port
 * asks for). The same tag always gets the same key, so a replay overwrites an entry with itself; two
 * different tags of one millisecond get two keys. Times are offset to year 0000 so every time a tag
 * can carry is a non-negative number of 15 digits.
 */
export const BIN_OF: Readonly<Record<Action, string>> = { VIEW: 'views', BUY: 'buys' };

const KEY_TIME_DIGITS = 15;
/** Epoch ms of 0000-01-01T00:00:00Z: keys count from there. */
export const KEY_EPOCH_OFFSET_MS = 62_167_219_200_000;
const MIN_KEY_TIME_MS = -KEY_EPOCH_OFFSET_MS;
/** One past 9999-12-31T23:59:59.999Z, the last instant a tag's four-digit year can name. */
const END_KEY_TIME_MS = 253_402_300_800_000;

/** The key prefix of an event time; also a range bound that sorts before every key of that millisecond. */
export function timeKey(epochMs: number): string {
  if (!Number.isInteger(epochMs) || epochMs < MIN_KEY_TIME_MS || epochMs > END_KEY_TIME_MS) {
    throw new RangeError(`event time ${epochMs} is outside years 0000-9999`);
  }
  return String(epochMs + KEY_EPOCH_OFFSET_MS).padStart(KEY_TIME_DIGITS, '0');
}

export function mapKey(epochMs: number, digestHex: string): string {
  return `${timeKey(epochMs)}:${digestHex}`;
}

export function timeOfMapKey(key: string): number {
  return Number(key.slice(0, KEY_TIME_DIGITS)) - KEY_EPOCH_OFFSET_MS;
}

/**
 * A tag without what the record and the key already say (cookie, action, event time):
 * `[time text or '', country, device index, origin, product_id, brand_id, category_id, price]`,
 * stored as the JSON text of that array. The time text is '' when it is the canonical
 * `YYYY-MM-DDTHH:MM:SS.mmmZ` of the key's time, the usual case; any other spelling (no
 * milliseconds) is kept verbatim. JSON keeps product_id's type and every client string exactly
 * (a native Aerospike string would turn a lone surrogate into U+FFFD).
 */
export type EncodedTag = [string, string, number, string, string | number, string, string, number];

function canonicalTimeText(epochMs: number): string {
  return `${formatUtcMillis(epochMs)}Z`;
}

export function encodeTag(tag: UserTag, epochMs: number): string {
  const p = tag.product_info;
  const device = DEVICES.indexOf(tag.device);
  if (device < 0) throw new RangeError(`unknown device ${JSON.stringify(tag.device)}`);
  const time = tag.time === canonicalTimeText(epochMs) ? '' : tag.time;
  const encoded: EncodedTag = [time, tag.country, device, tag.origin, p.product_id, p.brand_id, p.category_id, p.price];
  return JSON.stringify(encoded);
}

export function decodeTag(cookie: string, action: Action, key: string, value: unknown): UserTag {
  const malformed = (): Error =>
    new Error(`profile of ${JSON.stringify(cookie)}: malformed ${action} entry ${JSON.stringify(key)}`);
  let parsed: unknown;
  try {
    parsed = typeof value === 'string' ? JSON.parse(value) : undefined;
  } catch {
    throw malformed();
  }
  if (!Array.isArray(parsed) || parsed.length !== 8) throw malformed();
  const [time, country, device, origin, productId, brandId, categoryId, price] = parsed as EncodedTag;
  const deviceName = DEVICES[device];
  if (deviceName === undefined) throw new Error(`profile of ${JSON.stringify(cookie)}: unknown device code ${device}`);
  return {
    time: time === '' ? canonicalTimeText(timeOfMapKey(key)) : time,
    cookie,
    country,
    device: deviceName,
    action,
    origin,
    product_info: { product_id: productId, brand_id: brandId, category_id: categoryId, price },
  };
}

/**
 * The record size a profile must fit. Since Aerospike 7.1 a record may take up to 8 MiB unless the
 * namespace's `max-record-size` says less; before 7.1, `write-block-size` (default 1 MiB) bounds it and
 * must be set to 2M or more. Holding 400 tags of up to MAX_TAG_JSON_BYTES needs about 2 MiB.
 */
export const RECORD_LIMIT_BYTES = 2_097_152;
/** Room left for the record's own metadata and the two bins' map headers. */
export const RECORD_OVERHEAD_BYTES = 4_096;
/** Storage overhead of one map entry besides its key and value bytes (msgpack headers, offset index). */
export const ENTRY_OVERHEAD_BYTES = 16;

/**
 * Most bytes of key plus encoded tag one entry may take, so that a record of `2 × capacity` entries
 * (both actions full) stays within RECORD_LIMIT_BYTES. Every tag that meets the rules of ingest
 * (MAX_TAG_JSON_BYTES) is well within it (aerospike-profile.codec.spec.ts); only a tag that bypassed
 * them can exceed it, and the store leaves such an entry out rather than overflow the record.
 */
export function maxEntryBytes(capacity: number): number {
  return Math.floor((RECORD_LIMIT_BYTES - RECORD_OVERHEAD_BYTES) / (2 * capacity)) - ENTRY_OVERHEAD_BYTES;
}

/** What entriesOf leaves out: entries over the bound, by action. */
export interface Oversized {
  readonly action: Action;
  readonly key: string;
  readonly bytes: number;
}

/**
 * Tags of one cookie, keyed and encoded per action, in the order given (duplicates collapse). An
 * entry of more than `maxBytes` (key plus value) is left out and reported through `oversized`.
 */
export function entriesOf(
  tags: readonly UserTag[],
  maxBytes = Number.POSITIVE_INFINITY,
  oversized?: (entry: Oversized) => void,
): Map<Action, Map<string, string>> {
  const byAction = new Map<Action, Map<string, string>>();
  for (const tag of tags) {
    const epochMs = userTagEventTime(tag);
    const key = mapKey(epochMs, tagDigestHex(canonicalTagJson(tag)));
    const value = encodeTag(tag, epochMs);
    // Key and value lengths in UTF-16 units bound their UTF-8 bytes from below; count exactly only near the bound.
    if (key.length + value.length * 3 > maxBytes) {
      const bytes = Buffer.byteLength(key) + Buffer.byteLength(value);
      if (bytes > maxBytes) {
        oversized?.({ action: tag.action, key, bytes });
        continue;
      }
    }
    let entries = byAction.get(tag.action);
    if (!entries) byAction.set(tag.action, (entries = new Map()));
    entries.set(key, value);
  }
  return byAction;
}

const KEY_ORDERED = new MapPolicy({ order: maps.order.KEY_ORDERED });

/**
 * The operations of one append to one cookie's record, applied atomically by ONE `operate`: per
 * action, put the entries (creating a key-ordered map if the bin is new; an existing key holds the
 * same tag, so overwriting it is a no-op), then remove everything but the `capacity` greatest keys
 * (index range [-capacity, end) inverted), i.e. keep the newest.
 */
export function appendOperations(
  entries: ReadonlyMap<Action, ReadonlyMap<string, string>>,
  capacity: number,
): operations.Operation[] {
  const ops: operations.Operation[] = [];
  for (const [action, items] of entries) {
    const bin = BIN_OF[action];
    ops.push(maps.putItems(bin, items as Map<string, string>, KEY_ORDERED));
    ops.push(maps.removeByIndexRange(bin, -capacity, null, maps.returnType.INVERTED));
  }
  return ops;
}

/** Range bounds of a read, clamped to the key space: [from, to) in time, as keys. */
export function keyRange(range: TimeRange): { begin: string; end: string } {
  const clamp = (ms: number): number => Math.min(Math.max(ms, MIN_KEY_TIME_MS), END_KEY_TIME_MS);
  return { begin: timeKey(clamp(range.fromMs)), end: timeKey(clamp(range.toMs)) };
}

/** One operation per action: the entries with begin <= key < end, keys and values, in key order. */
export function readOperations(range: TimeRange): operations.Operation[] {
  const { begin, end } = keyRange(range);
  return ACTIONS.map((action) => maps.getByKeyRange(BIN_OF[action], begin, end, maps.returnType.KEY_VALUE));
}

/**
 * Decodes a getByKeyRange KEY_VALUE result (`[k1, v1, k2, v2, ...]`, ascending; null when the bin
 * is absent) into at most `limit` tags, newest first.
 */
export function decodeRange(cookie: string, action: Action, result: unknown, limit: number): UserTag[] {
  if (result === null || result === undefined) return [];
  if (!Array.isArray(result) || result.length % 2 !== 0) {
    throw new Error(`profile of ${JSON.stringify(cookie)}: unexpected ${action} range result`);
  }
  const tags: UserTag[] = [];
  for (let i = result.length - 2; i >= 0 && tags.length < limit; i -= 2) {
    tags.push(decodeTag(cookie, action, String(result[i]), result[i + 1]));
  }
  return tags;
}
