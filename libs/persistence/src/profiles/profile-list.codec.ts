/**
 * One (cookie, action) list of a profile as ONE text value, so the PostgreSQL store keeps a list in
 * one row: appending a batch writes each touched list once, and a read fetches it whole.
 *
 * Layout: entries newest first, by (time_ms desc, digest desc), each one line
 *
 *   <time_ms> <digest> <json>\n
 *
 * time_ms in decimal (event time in epoch ms), digest the 16 hex digits of tag-identity.ts (the
 * tie-breaker and the identity of a tag; fixed width, so text order is byte order), json the
 * canonical JSON of the tag (time text and product_id type kept). JSON text never holds a raw line
 * feed (JSON.stringify escapes every control character), so lines split cleanly. Merging and range
 * filtering read the two header fields and copy slices: no stored tag is parsed or re-encoded, and
 * an answer is the stored JSON texts joined, sent as they are. The migration writes the same layout
 * in SQL and the profile_entry view reads it back.
 */

/** A tag ready to merge: its identity and its line. */
export interface ListEntry {
  readonly timeMs: number;
  /** 16 lower-case hex digits. */
  readonly digest: string;
  /** The whole line, line feed included. */
  readonly line: string;
}

const DIGEST_CHARS = 16;

export function encodeEntry(timeMs: number, digest: string, json: string): ListEntry {
  return { timeMs, digest, line: `${timeMs} ${digest} ${json}\n` };
}

/** Newest first: time descending, then digest descending. */
export function compareNewestFirst(aTime: number, aDigest: string, bTime: number, bDigest: string): number {
  if (aTime !== bTime) return bTime - aTime;
  return aDigest < bDigest ? 1 : aDigest > bDigest ? -1 : 0;
}

/** Sorts newest first and drops repeats of one tag (same time and digest). */
export function sortedDistinct(entries: ListEntry[]): ListEntry[] {
  entries.sort((a, b) => compareNewestFirst(a.timeMs, a.digest, b.timeMs, b.digest));
  const out: ListEntry[] = [];
  for (const e of entries) {
    const last = out[out.length - 1];
    if (last && last.timeMs === e.timeMs && last.digest === e.digest) continue;
    out.push(e);
  }
  return out;
}

/**
 * Walks the lines of a stored list from the line starting at `from`, calling
 * `visit(timeMs, start, digestAt, jsonAt, end)` (start: the line's first character; end: just past
 * its line feed) until it returns false.
 */
export function forEachEntry(
  list: string,
  visit: (timeMs: number, start: number, digestAt: number, jsonAt: number, end: number) => boolean | void,
  from = 0,
): void {
  let at = from;
  while (at < list.length) {
    const space = list.indexOf(' ', at);
    const jsonAt = space + DIGEST_CHARS + 2;
    const feed = space < 0 ? -1 : list.indexOf('\n', jsonAt);
    if (feed < 0 || list.charCodeAt(jsonAt - 1) !== 32) throw new Error(`profile list malformed at ${at}`);
    const timeMs = Number(list.slice(at, space));
    if (!Number.isSafeInteger(timeMs)) throw new Error(`profile list malformed at ${at}: time`);
    if (visit(timeMs, at, space + 1, jsonAt, feed + 1) === false) return;
    at = feed + 1;
  }
}

/**
 * The newest `capacity` distinct tags of a stored list and new entries (sorted newest first and
 * distinct, see {@link sortedDistinct}), or undefined when the list would not change: every new
 * entry is already in it or older than a full list's oldest. Stored lines are copied as slices.
 */
export function mergeList(
  stored: string | undefined,
  added: readonly ListEntry[],
  capacity: number,
): string | undefined {
  const parts: string[] = [];
  let kept = 0;
  let changed = false;
  let i = 0;
  let more = true;
  if (stored) {
    // Consecutive stored lines are copied as one slice.
    let runStart = -1;
    let runEnd = -1;
    const flushRun = (): void => {
      if (runStart >= 0) parts.push(stored.slice(runStart, runEnd));
      runStart = -1;
    };
    forEachEntry(stored, (timeMs, start, digestAt, _jsonAt, end) => {
      const digest = stored.slice(digestAt, digestAt + DIGEST_CHARS);
      while (i < added.length) {
        const a = added[i];
        const c = compareNewestFirst(a.timeMs, a.digest, timeMs, digest);
        if (c > 0) break;
        i += 1;
        if (c === 0) continue; // already stored
        flushRun();
        changed = true;
        parts.push(a.line);
        kept += 1;
        more = kept < capacity;
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
    parts.push(added[i++].line);
    kept += 1;
    more = kept < capacity;
  }
  return changed ? parts.join('') : undefined;
}

/**
 * The JSON array text of the list's tags with fromMs <= time < toMs, newest first, at most `limit`:
 * the stored JSON texts joined.
 */
export function rangeJson(list: string | undefined, fromMs: number, toMs: number, limit: number): string {
  return rangeJsonOfParts([list], fromMs, toMs, limit, Infinity);
}

/**
 * `rangeJson` of the list made of `parts` one after the other, each newest first and each entirely
 * newer than the next, of which only the first `capacity` entries count (the rest would have been
 * trimmed). Walks no further than the answer needs: a read of a recent range stops after the first
 * lines of a long list instead of merging the whole of it.
 */
export function rangeJsonOfParts(
  parts: readonly (string | undefined)[],
  fromMs: number,
  toMs: number,
  limit: number,
  capacity: number,
): string {
  const out: string[] = [];
  if (limit <= 0) return '[]';
  let seen = 0;
  let done = false;
  for (const list of parts) {
    if (done) break;
    if (!list) continue;
    forEachEntry(list, (timeMs, _start, _digestAt, jsonAt, end) => {
      seen += 1;
      // Newest first: past `fromMs` everything is older still.
      if (timeMs < fromMs || seen > capacity) {
        done = true;
        return false;
      }
      if (timeMs < toMs) out.push(list.slice(jsonAt, end - 1));
      if (out.length >= limit || seen >= capacity) {
        done = true;
        return false;
      }
      return true;
    });
  }
  return `[${out.join(',')}]`;
}

/**
 * Whether every entry of `newer` comes before every entry of `older` (its oldest line against the
 * other's newest), so the two can be read one after the other without a merge. Empty lists qualify.
 */
export function strictlyNewer(newer: string | undefined, older: string | undefined): boolean {
  if (!newer || !older) return true;
  const a = entryAt(newer, newer.lastIndexOf('\n', newer.length - 2) + 1);
  const b = entryAt(older, 0);
  return compareNewestFirst(a.timeMs, a.digest, b.timeMs, b.digest) < 0;
}

/** The entry of the line starting at `at`. */
function entryAt(list: string, at: number): ListEntry {
  let entry: ListEntry | undefined;
  forEachEntry(
    list,
    (timeMs, start, digestAt, _jsonAt, end) => {
      entry = { timeMs, digest: list.slice(digestAt, digestAt + DIGEST_CHARS), line: list.slice(start, end) };
      return false;
    },
    at,
  );
  if (!entry) throw new Error(`profile list malformed at ${at}: no line`);
  return entry;
}

/** The entries of a stored list. */
export function entriesOf(list: string | undefined): ListEntry[] {
  const out: ListEntry[] = [];
  if (!list) return out;
  forEachEntry(list, (timeMs, start, digestAt, _jsonAt, end) => {
    out.push({ timeMs, digest: list.slice(digestAt, digestAt + DIGEST_CHARS), line: list.slice(start, end) });
  });
  return out;
}
