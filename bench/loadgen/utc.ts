/**
 * The loadgen's own UTC time text, written from the calendar rules rather than with Date or the
 * product's helpers, so that a mistake in either shows up as a disagreement instead of being shared.
 * Days <-> civil dates use Howard Hinnant's algorithms (proleptic Gregorian, exact for any year).
 */

export const MS_PER_SECOND = 1_000;
export const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400; // [0, 399]
  const mp = (month + 9) % 12; // March = 0
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1; // [0, 365]
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy; // [0, 146096]
  return era * 146_097 + doe - 719_468;
}

/** Inverse of daysFromCivil. */
export function civilFromDays(days: number): { year: number; month: number; day: number } {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function fields(epochMs: number): { date: string; hms: string; ms: number } {
  if (!Number.isSafeInteger(epochMs)) throw new RangeError(`not an integer epoch ms: ${epochMs}`);
  const days = Math.floor(epochMs / MS_PER_DAY);
  const inDay = epochMs - days * MS_PER_DAY;
  const { year, month, day } = civilFromDays(days);
  if (year < 1 || year > 9999) throw new RangeError(`year ${year} has no 4-digit ISO form`);
  const seconds = Math.floor(inDay / MS_PER_SECOND);
  return {
    date: `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`,
    hms: `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}`,
    ms: inDay % MS_PER_SECOND,
  };
}

/** `2022-03-01T00:00:00.123Z`: a tag's time as most clients send it. */
export function formatTagTimeMillis(epochMs: number): string {
  const f = fields(epochMs);
  return `${f.date}T${f.hms}.${pad(f.ms, 3)}Z`;
}

/** `2022-03-01T00:00:15Z`: a tag's time as some clients send it; the instant must be a whole second. */
export function formatTagTimeSeconds(epochMs: number): string {
  const f = fields(epochMs);
  if (f.ms !== 0) throw new RangeError(`${epochMs} is not a whole second`);
  return `${f.date}T${f.hms}Z`;
}

/** `2022-03-01T00:00:00.123`: a bound of a profile query's time_range (milliseconds, no zone). */
export function formatProfileBound(epochMs: number): string {
  const f = fields(epochMs);
  return `${f.date}T${f.hms}.${pad(f.ms, 3)}`;
}

/** `2022-03-01T00:05:00`: a bound of an aggregates query's time_range, and a bucket in its answer. */
export function formatSeconds(epochMs: number): string {
  const f = fields(epochMs);
  if (f.ms !== 0) throw new RangeError(`${epochMs} is not a whole second`);
  return `${f.date}T${f.hms}`;
}

const UTC_TEXT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z?)$/;

/**
 * Epoch ms of `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z]`, or undefined when the text is malformed or names no
 * instant (30 February, hour 24, second 60). Digits beyond milliseconds are truncated.
 */
export function parseUtc(text: string, zone: 'required' | 'forbidden' | 'either' = 'either'): number | undefined {
  const m = UTC_TEXT.exec(text);
  if (m === null) return undefined;
  const hasZ = m[8] === 'Z';
  if ((zone === 'required' && !hasZ) || (zone === 'forbidden' && hasZ)) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  return daysFromCivil(year, month, day) * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * MS_PER_SECOND + ms;
}

/** Start of the minute holding `epochMs` (floor, also for instants before 1970). */
export function minuteOf(epochMs: number): number {
  return Math.floor(epochMs / MS_PER_MINUTE) * MS_PER_MINUTE;
}
