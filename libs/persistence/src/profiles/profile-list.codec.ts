/**
 * One (cookie, action) list of a profile as ONE value: the PostgreSQL store keeps it in one row, so
 * appending a batch writes each touched list once, and a read fetches it whole.
 *
 * Layout: entries newest first, by (time_ms desc, digest desc), each
 *
 *   time_ms  int64 big-endian    (two's complement, as PostgreSQL's int8send writes it)
 *   digest   8 bytes             (tag-identity.ts: the tie-breaker and the identity of a tag)
 *   length   uint32 big-endian   (of the JSON that follows)
 *   json     UTF-8               (the canonical JSON of the tag: time text and product_id type kept)
 *
 * The header is fixed-size, so merging and range filtering walk the headers and copy byte ranges:
 * no stored tag is parsed or re-encoded when a list is merged. The same layout is written by the
 * migration from the per-tag table in SQL (int8send, int4send), and read back in SQL by the
 * profile_entry view (one row per entry, for operators and tests).
 */

export const ENTRY_HEADER_BYTES = 20;
const DIGEST_AT = 8;
const LENGTH_AT = 16;

const TWO_32 = 2 ** 32;

/** A safe integer as int64 big-endian, without BigInt. */
function writeInt64(buf: Buffer, value: number, at: number): void {
  const hi = Math.floor(value / TWO_32);
  buf.writeInt32BE(hi, at);
  buf.writeUInt32BE(value - hi * TWO_32, at + 4);
}

function readInt64(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

/** A tag ready to merge: its identity and its encoded entry (header + JSON). */
export interface ListEntry {
  readonly timeMs: number;
  /** 8 bytes. */
  readonly digest: Buffer;
  /** The whole entry as laid out above. */
  readonly bytes: Buffer;
}

export function encodeEntry(timeMs: number, digest: Buffer, json: string): ListEntry {
  const jsonBytes = Buffer.byteLength(json);
  const bytes = Buffer.allocUnsafe(ENTRY_HEADER_BYTES + jsonBytes);
  writeInt64(bytes, timeMs, 0);
  digest.copy(bytes, DIGEST_AT, 0, 8);
  bytes.writeUInt32BE(jsonBytes, LENGTH_AT);
  bytes.write(json, ENTRY_HEADER_BYTES, 'utf8');
  return { timeMs, digest: bytes.subarray(DIGEST_AT, DIGEST_AT + 8), bytes };
}

/** Newest first: time descending, then digest descending (byte-wise). */
export function compareNewestFirst(aTime: number, aDigest: Buffer, bTime: number, bDigest: Buffer): number {
  if (aTime !== bTime) return bTime - aTime;
  return Buffer.compare(bDigest, aDigest);
}

/** Sorts newest first and drops repeats of one tag (same time and digest). */
export function sortedDistinct(entries: ListEntry[]): ListEntry[] {
  entries.sort((a, b) => compareNewestFirst(a.timeMs, a.digest, b.timeMs, b.digest));
  const out: ListEntry[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last && last.timeMs === e.timeMs && last.digest.equals(e.digest)) continue;
    out.push(e);
  }
  return out;
}

/** Walks the entries of a stored list, calling `visit(timeMs, start, end)` until it returns false. */
export function forEachEntry(
  list: Buffer,
  visit: (timeMs: number, start: number, end: number) => boolean | void,
): void {
  let at = 0;
  while (at < list.length) {
    if (at + ENTRY_HEADER_BYTES > list.length) throw new Error(`profile list cut short at byte ${at}`);
    const end = at + ENTRY_HEADER_BYTES + list.readUInt32BE(at + LENGTH_AT);
    if (end > list.length) throw new Error(`profile list entry at byte ${at} runs past the end`);
    if (visit(readInt64(list, at), at, end) === false) return;
    at = end;
  }
}

/**
 * The newest `capacity` distinct tags of a stored list and new entries (sorted newest first and
 * distinct, see {@link sortedDistinct}), or undefined when the list would not change: every new
 * entry is already in it or older than a full list's oldest. Stored bytes are copied as ranges.
 */
export function mergeList(
  stored: Buffer | undefined,
  added: readonly ListEntry[],
  capacity: number,
): Buffer | undefined {
  const parts: Buffer[] = [];
  let kept = 0;
  let changed = false;
  let i = 0;
  const take = (b: Buffer): boolean => {
    parts.push(b);
    kept += 1;
    return kept < capacity;
  };
  let more = true;
  if (stored) {
    // Consecutive stored entries are copied as one range.
    let runStart = -1;
    let runEnd = -1;
    const flushRun = (): void => {
      if (runStart >= 0) parts.push(stored.subarray(runStart, runEnd));
      runStart = -1;
    };
    forEachEntry(stored, (timeMs, start, end) => {
      const digest = stored.subarray(start + DIGEST_AT, start + DIGEST_AT + 8);
      while (i < added.length) {
        const a = added[i];
        const c = compareNewestFirst(a.timeMs, a.digest, timeMs, digest);
        if (c > 0) break;
        i += 1;
        if (c === 0) continue; // already stored
        flushRun();
        changed = true;
        more = take(a.bytes);
        if (!more) return false;
      }
      if (runStart < 0) runStart = start;
      runEnd = end;
      kept += 1;
      more = kept < capacity;
      return more;
    });
    flushRun();
  }
  while (more && i < added.length) {
    changed = true;
    more = take(added[i++].bytes);
  }
  if (!changed) return undefined;
  return Buffer.concat(parts);
}

/**
 * The JSON array text of the list's tags with fromMs <= time < toMs, newest first, at most `limit`:
 * the stored JSON texts joined, so the caller parses once.
 */
export function rangeJson(list: Buffer | undefined, fromMs: number, toMs: number, limit: number): string {
  if (!list || limit <= 0) return '[]';
  const parts: string[] = [];
  forEachEntry(list, (timeMs, start, end) => {
    if (timeMs < fromMs) return false; // newest first: everything after is older still
    if (timeMs >= toMs) return true;
    parts.push(list.toString('utf8', start + ENTRY_HEADER_BYTES, end));
    return parts.length < limit;
  });
  return `[${parts.join(',')}]`;
}

/** The entries of a stored list, as views of its bytes (nothing copied). */
export function entriesOf(list: Buffer | undefined): ListEntry[] {
  const out: ListEntry[] = [];
  if (!list) return out;
  forEachEntry(list, (timeMs, start, end) => {
    out.push({
      timeMs,
      digest: list.subarray(start + DIGEST_AT, start + DIGEST_AT + 8),
      bytes: list.subarray(start, end),
    });
  });
  return out;
}

/** How many entries a stored list holds. */
export function entryCount(list: Buffer): number {
  let n = 0;
  forEachEntry(list, () => {
    n += 1;
  });
  return n;
}
