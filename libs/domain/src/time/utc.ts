import { DomainError, DomainErrorCode } from '../errors';

/**
 * Strict UTC timestamps. `Date.parse` accepts too much (local times, "2022-02-30" rolled into
 * March), so the fields are matched by pattern and checked against the calendar.
 */

export const MS_PER_SECOND = 1_000;
export const MS_PER_MINUTE = 60_000;

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : DAYS_IN_MONTH[month - 1]!;
}

export interface ParsedUtc {
  /** Milliseconds since the Unix epoch, fractions below a millisecond truncated. */
  epochMs: number;
  /** Digits after the decimal point as written (0 when there is no fraction). */
  fractionDigits: number;
}

/**
 * Parses `YYYY-MM-DDTHH:MM:SS[.fff…]` (no zone: UTC is implied) into epoch milliseconds.
 * Returns undefined when the text is not such a timestamp or names no real instant
 * (month 13, 30 February, hour 24, leap seconds).
 */
export function parseUtcNoZone(text: string): ParsedUtc | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const fraction = m[7] ?? '';
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59 || fraction.length > 9) return undefined;
  const ms = fraction.length === 0 ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'));
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  return { epochMs: date.getTime(), fractionDigits: fraction.length };
}

/**
 * Parses a user tag's `time`: ISO-8601 in UTC with a trailing `Z`, with or without a fraction of a
 * second (`2022-03-22T12:15:00.000Z`, `2022-03-22T12:15:00Z`). Throws TIME_FORMAT otherwise.
 */
export function parseTagTime(text: string, field = 'time'): number {
  const fast = sameMinuteAsLast(text);
  if (fast !== undefined) return fast;
  const parsed = text.endsWith('Z') ? parseUtcNoZone(text.slice(0, -1)) : undefined;
  if (!parsed) {
    throw new DomainError(
      DomainErrorCode.TimeFormat,
      `${field} must be an ISO-8601 UTC timestamp like 2022-03-22T12:15:00.000Z, got ${JSON.stringify(text)}`,
      field,
    );
  }
  rememberMinute(text, parsed.epochMs);
  return parsed.epochMs;
}

/**
 * The minute (`YYYY-MM-DDTHH:MM`) of the last tag time parsed in full, and its start: tags come in time
 * order, so most share the previous one's minute and need only their seconds and milliseconds read
 * (the full parse, a regular expression and a Date, was ~3 % of the pipeline's time).
 */
let lastMinute = '';
let lastMinuteMs = 0;

const MINUTE_CHARS = 16;

/** Two ASCII digits at `at` as a number, or NaN. */
function twoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : Number.NaN;
}

/**
 * Epoch ms of `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ` when its minute is the remembered
 * one; undefined otherwise (the full parse decides, including what is wrong).
 */
function sameMinuteAsLast(text: string): number | undefined {
  const n = text.length;
  if ((n !== 20 && n !== 24) || lastMinute === '' || !text.startsWith(lastMinute)) return undefined;
  if (text.charCodeAt(16) !== 58 /* : */ || text.charCodeAt(n - 1) !== 90 /* Z */) return undefined;
  const second = twoDigits(text, 17);
  if (!(second <= 59)) return undefined;
  let ms = 0;
  if (n === 24) {
    const hundreds = text.charCodeAt(20) - 48;
    const rest = twoDigits(text, 21);
    if (text.charCodeAt(19) !== 46 /* . */ || !(hundreds >= 0 && hundreds <= 9) || Number.isNaN(rest)) return undefined;
    ms = hundreds * 100 + rest;
  }
  return lastMinuteMs + second * MS_PER_SECOND + ms;
}

/** Remembers the minute of a fully parsed tag time of one of the two shapes sameMinuteAsLast reads. */
function rememberMinute(text: string, epochMs: number): void {
  if (text.length !== 20 && text.length !== 24) return;
  lastMinute = text.slice(0, MINUTE_CHARS);
  lastMinuteMs = epochMs - (((epochMs % MS_PER_MINUTE) + MS_PER_MINUTE) % MS_PER_MINUTE);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DDTHH:MM:SS`, UTC, no zone, no fraction: the format of aggregate buckets. */
export function formatUtcSeconds(epochMs: number): string {
  const d = new Date(epochMs);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}` +
    `T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}`
  );
}

/** `YYYY-MM-DDTHH:MM:SS.mmm`, UTC, no zone. */
export function formatUtcMillis(epochMs: number): string {
  return `${formatUtcSeconds(epochMs)}.${pad(new Date(epochMs).getUTCMilliseconds(), 3)}`;
}
