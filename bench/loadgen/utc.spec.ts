import { Rng } from './prng';
import {
  civilFromDays,
  daysFromCivil,
  formatProfileBound,
  formatSeconds,
  formatTagTimeMillis,
  formatTagTimeSeconds,
  minuteOf,
  parseUtc,
} from './utc';

describe('utc (the loadgen’s own calendar)', () => {
  it('agrees with Date on civil dates over four centuries, both ways', () => {
    const rng = new Rng(1, 'utc');
    const wrong: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const days = rng.between(daysFromCivil(1800, 1, 1), daysFromCivil(2300, 12, 31));
      const d = new Date(days * 86_400_000);
      const c = civilFromDays(days);
      if (c.year !== d.getUTCFullYear() || c.month !== d.getUTCMonth() + 1 || c.day !== d.getUTCDate())
        wrong.push(days);
      if (daysFromCivil(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()) !== days) wrong.push(days);
    }
    expect(wrong).toEqual([]);
  });

  it('formats every field with leading zeros, in all four shapes', () => {
    const ms = Date.UTC(2022, 2, 1, 4, 5, 6, 7);
    expect(formatTagTimeMillis(ms)).toBe('2022-03-01T04:05:06.007Z');
    expect(formatProfileBound(ms)).toBe('2022-03-01T04:05:06.007');
    expect(formatTagTimeSeconds(Date.UTC(2022, 2, 22, 12, 15))).toBe('2022-03-22T12:15:00Z');
    expect(formatSeconds(Date.UTC(2022, 2, 1, 0, 5))).toBe('2022-03-01T00:05:00');
  });

  it('matches Date#toISOString for random instants, before 1970 too', () => {
    const rng = new Rng(2, 'iso');
    const wrong: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const ms = rng.between(Date.UTC(1900, 0, 1), Date.UTC(2100, 0, 1));
      if (formatTagTimeMillis(ms) !== new Date(ms).toISOString() || parseUtc(formatTagTimeMillis(ms)) !== ms)
        wrong.push(ms);
    }
    expect(wrong).toEqual([]);
  });

  it('refuses to write a time without milliseconds for an instant that has them', () => {
    expect(() => formatTagTimeSeconds(Date.UTC(2022, 2, 1) + 1)).toThrow(RangeError);
    expect(() => formatSeconds(Date.UTC(2022, 2, 1) + 999)).toThrow(RangeError);
  });

  it('handles leap days: 2000 and 2024 have 29 February, 1900 and 2023 do not', () => {
    expect(parseUtc('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29));
    expect(parseUtc('2024-02-29T23:59:59.999Z')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(parseUtc('1900-02-29T00:00:00Z')).toBeUndefined();
    expect(parseUtc('2023-02-29T00:00:00Z')).toBeUndefined();
    expect(formatTagTimeMillis(Date.UTC(2024, 1, 29, 12))).toBe('2024-02-29T12:00:00.000Z');
  });

  it('parses with and without a zone, with 0 to 9 fraction digits (beyond milliseconds truncated)', () => {
    const base = Date.UTC(2022, 2, 22, 12, 15);
    expect(parseUtc('2022-03-22T12:15:00Z')).toBe(base);
    expect(parseUtc('2022-03-22T12:15:00')).toBe(base);
    expect(parseUtc('2022-03-22T12:15:00.5Z')).toBe(base + 500);
    expect(parseUtc('2022-03-22T12:15:00.12Z')).toBe(base + 120);
    expect(parseUtc('2022-03-22T12:15:00.123456789Z')).toBe(base + 123);
    expect(parseUtc('2022-03-22T12:15:00.999999Z')).toBe(base + 999);
    expect(parseUtc('2022-03-22T12:15:00Z', 'forbidden')).toBeUndefined();
    expect(parseUtc('2022-03-22T12:15:00', 'required')).toBeUndefined();
  });

  it.each([
    '2022-03-22T24:00:00Z',
    '2022-03-22T12:60:00Z',
    '2022-03-22T12:15:60Z',
    '2022-13-01T00:00:00Z',
    '2022-00-01T00:00:00Z',
    '2022-04-31T00:00:00Z',
    '2022-03-22 12:15:00Z',
    '2022-03-22T12:15:00.Z',
    '2022-03-22T12:15:00.1234567890Z',
    '2022-03-22T12:15:00+01:00',
    '22-03-22T12:15:00Z',
    '',
  ])('rejects %j', (text) => {
    expect(parseUtc(text)).toBeUndefined();
  });

  it('floors to the minute, also before the epoch', () => {
    expect(minuteOf(Date.UTC(2022, 2, 1, 0, 5, 59, 999))).toBe(Date.UTC(2022, 2, 1, 0, 5));
    expect(minuteOf(-1)).toBe(-60_000);
    expect(minuteOf(0)).toBe(0);
  });
});
