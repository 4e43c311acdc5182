import { DomainError, DomainErrorCode } from '../errors';
import { MS_PER_MINUTE, parseUtcNoZone } from './utc';

/** A half-open interval of event time, `[fromMs, toMs)`, in epoch milliseconds. */
export interface TimeRange {
  readonly fromMs: number;
  readonly toMs: number;
}

export const MAX_AGGREGATE_RANGE_MINUTES = 10;

const FIELD = 'time_range';

function splitRange(text: string): [string, string] {
  const parts = text.split('_');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new DomainError(
      DomainErrorCode.TimeRangeFormat,
      `time_range must be <from>_<to>, got ${JSON.stringify(text)}`,
      FIELD,
    );
  }
  return [parts[0], parts[1]];
}

function parseBound(text: string, example: string, maxFractionDigits: number, which: 'from' | 'to'): number {
  const parsed = parseUtcNoZone(text);
  if (!parsed || (parsed.fractionDigits !== 0 && parsed.fractionDigits !== maxFractionDigits)) {
    throw new DomainError(
      DomainErrorCode.TimeRangeFormat,
      `time_range ${which} must be a UTC time without zone like ${example}, got ${JSON.stringify(text)}`,
      FIELD,
    );
  }
  return parsed.epochMs;
}

function checkOrder(fromMs: number, toMs: number, text: string): void {
  if (fromMs >= toMs) {
    throw new DomainError(
      DomainErrorCode.TimeRangeOrder,
      `time_range must have from < to, got ${JSON.stringify(text)}`,
      FIELD,
    );
  }
}

/**
 * Time range of a profile query: millisecond precision, `2022-03-22T12:15:00.000_2022-03-22T12:30:00.000`.
 * A bound without a fraction (`…T12:15:00`) is accepted as the same instant with `.000`.
 */
export function parseProfileTimeRange(text: string): TimeRange {
  const [from, to] = splitRange(text);
  const fromMs = parseBound(from, '2022-03-22T12:15:00.000', 3, 'from');
  const toMs = parseBound(to, '2022-03-22T12:15:00.000', 3, 'to');
  checkOrder(fromMs, toMs, text);
  return { fromMs, toMs };
}

/**
 * Time range of an aggregates query: second precision, both bounds on whole minutes, at most
 * ten minutes long: `2022-03-22T12:15:00_2022-03-22T12:25:00`.
 */
export function parseAggregateTimeRange(text: string): TimeRange {
  const [from, to] = splitRange(text);
  const fromMs = parseBound(from, '2022-03-22T12:15:00', 0, 'from');
  const toMs = parseBound(to, '2022-03-22T12:15:00', 0, 'to');
  checkOrder(fromMs, toMs, text);
  if (fromMs % MS_PER_MINUTE !== 0 || toMs % MS_PER_MINUTE !== 0) {
    throw new DomainError(
      DomainErrorCode.TimeRangeNotWholeMinutes,
      `time_range bounds must be whole minutes (seconds :00), got ${JSON.stringify(text)}`,
      FIELD,
    );
  }
  if (toMs - fromMs > MAX_AGGREGATE_RANGE_MINUTES * MS_PER_MINUTE) {
    throw new DomainError(
      DomainErrorCode.TimeRangeTooLong,
      `time_range must span at most ${MAX_AGGREGATE_RANGE_MINUTES} minutes, got ${(toMs - fromMs) / MS_PER_MINUTE}`,
      FIELD,
    );
  }
  return { fromMs, toMs };
}

export function contains(range: TimeRange, epochMs: number): boolean {
  return range.fromMs <= epochMs && epochMs < range.toMs;
}
