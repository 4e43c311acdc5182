import { DomainError } from '../errors';
import { contains, parseAggregateTimeRange, parseProfileTimeRange } from './time-range';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).field).toBe('time_range');
    return (e as DomainError).code;
  }
  return undefined;
}

describe('parseProfileTimeRange', () => {
  it('parses millisecond bounds into a half-open range', () => {
    const r = parseProfileTimeRange('2022-03-22T12:15:00.000_2022-03-22T12:30:00.001');
    expect(r).toEqual({ fromMs: Date.parse('2022-03-22T12:15:00.000Z'), toMs: Date.parse('2022-03-22T12:30:00.001Z') });
    expect(contains(r, r.fromMs)).toBe(true);
    expect(contains(r, r.toMs - 1)).toBe(true);
    expect(contains(r, r.toMs)).toBe(false);
    expect(contains(r, r.fromMs - 1)).toBe(false);
  });

  it('accepts a bound without fraction as .000', () => {
    expect(parseProfileTimeRange('2022-03-22T12:15:00_2022-03-22T12:15:01.000')).toEqual({
      fromMs: Date.parse('2022-03-22T12:15:00Z'),
      toMs: Date.parse('2022-03-22T12:15:01Z'),
    });
  });

  it('spans a leap day and the end of a month', () => {
    const r = parseProfileTimeRange('2024-02-28T23:59:59.999_2024-03-01T00:00:00.000');
    expect(r.toMs - r.fromMs).toBe(24 * 3600 * 1000 + 1);
  });

  it.each([
    ['', 'TIME_RANGE_FORMAT'],
    ['2022-03-22T12:15:00.000', 'TIME_RANGE_FORMAT'],
    ['2022-03-22T12:15:00.000_', 'TIME_RANGE_FORMAT'],
    ['_2022-03-22T12:15:00.000', 'TIME_RANGE_FORMAT'],
    ['2022-03-22T12:15:00.000_2022-03-22T12:16:00.000_2022-03-22T12:17:00.000', 'TIME_RANGE_FORMAT'],
    ['2022-03-22T12:15:00.000Z_2022-03-22T12:16:00.000Z', 'TIME_RANGE_FORMAT'],
    ['2022-03-22T12:15:00.00_2022-03-22T12:16:00.000', 'TIME_RANGE_FORMAT'],
    ['2022-03-22T12:15:00.0000_2022-03-22T12:16:00.000', 'TIME_RANGE_FORMAT'],
    ['2023-02-29T00:00:00.000_2023-03-01T00:00:00.000', 'TIME_RANGE_FORMAT'],
    ['2022-03-22T12:16:00.000_2022-03-22T12:15:00.000', 'TIME_RANGE_ORDER'],
    ['2022-03-22T12:15:00.000_2022-03-22T12:15:00.000', 'TIME_RANGE_ORDER'],
    ['2022-03-22T12:15:00.001_2022-03-22T12:15:00.000', 'TIME_RANGE_ORDER'],
  ])('%j -> %s', (text, code) => {
    expect(codeOf(() => parseProfileTimeRange(text))).toBe(code);
  });
});

describe('parseAggregateTimeRange', () => {
  it('parses whole-minute second-precision bounds', () => {
    expect(parseAggregateTimeRange('2022-03-01T00:05:00_2022-03-01T00:15:00')).toEqual({
      fromMs: Date.parse('2022-03-01T00:05:00Z'),
      toMs: Date.parse('2022-03-01T00:15:00Z'),
    });
  });

  it('allows exactly ten minutes across midnight at the end of a leap February', () => {
    const r = parseAggregateTimeRange('2024-02-29T23:55:00_2024-03-01T00:05:00');
    expect(r.toMs - r.fromMs).toBe(10 * 60_000);
  });

  it('allows ranges across the end of a month and a year', () => {
    expect(parseAggregateTimeRange('2022-12-31T23:59:00_2023-01-01T00:01:00').toMs).toBe(
      Date.parse('2023-01-01T00:01:00Z'),
    );
  });

  it.each([
    ['2022-03-01T00:05_2022-03-01T00:15', 'TIME_RANGE_FORMAT'],
    ['2022-03-01T00:05:00.5_2022-03-01T00:15:00', 'TIME_RANGE_FORMAT'],
    ['2022-03-01T00:05:00.000_2022-03-01T00:15:00', 'TIME_RANGE_FORMAT'],
    ['2023-02-29T00:00:00_2023-02-29T00:01:00', 'TIME_RANGE_FORMAT'],
    ['2022-03-01T00:15:00_2022-03-01T00:05:00', 'TIME_RANGE_ORDER'],
    ['2022-03-01T00:05:00_2022-03-01T00:05:00', 'TIME_RANGE_ORDER'],
    ['2022-03-01T00:05:30_2022-03-01T00:15:00', 'TIME_RANGE_NOT_WHOLE_MINUTES'],
    ['2022-03-01T00:05:00_2022-03-01T00:14:59', 'TIME_RANGE_NOT_WHOLE_MINUTES'],
    ['2022-03-01T00:05:00_2022-03-01T00:16:00', 'TIME_RANGE_TOO_LONG'],
    ['2022-03-01T00:00:00_2022-03-02T00:00:00', 'TIME_RANGE_TOO_LONG'],
  ])('%j -> %s', (text, code) => {
    expect(codeOf(() => parseAggregateTimeRange(text))).toBe(code);
  });
});
