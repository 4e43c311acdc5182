import { DomainError } from '../errors';
import { daysInMonth, formatUtcMillis, formatUtcSeconds, isLeapYear, parseTagTime, parseUtcNoZone } from './utc';

describe('isLeapYear / daysInMonth', () => {
  it.each([
    [2020, true],
    [2022, false],
    [1900, false],
    [2000, true],
    [2100, false],
    [2400, true],
  ])('%i leap=%s', (year, leap) => {
    expect(isLeapYear(year)).toBe(leap);
    expect(daysInMonth(year, 2)).toBe(leap ? 29 : 28);
  });

  it('knows the length of every month', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((m) => daysInMonth(2023, m))).toEqual([
      31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
    ]);
  });
});

describe('parseUtcNoZone', () => {
  it('reads milliseconds and whole seconds as the same instant', () => {
    expect(parseUtcNoZone('2022-03-22T12:15:00.000')?.epochMs).toBe(Date.parse('2022-03-22T12:15:00.000Z'));
    expect(parseUtcNoZone('2022-03-22T12:15:00')?.epochMs).toBe(Date.parse('2022-03-22T12:15:00Z'));
    expect(parseUtcNoZone('2022-03-22T12:15:00.123')?.epochMs).toBe(Date.parse('2022-03-22T12:15:00.123Z'));
  });

  it('truncates digits below the millisecond and reports how many were written', () => {
    expect(parseUtcNoZone('2022-03-22T12:15:00.123999')).toEqual({
      epochMs: Date.parse('2022-03-22T12:15:00.123Z'),
      fractionDigits: 6,
    });
    expect(parseUtcNoZone('2022-03-22T12:15:00.5')?.epochMs).toBe(Date.parse('2022-03-22T12:15:00.500Z'));
  });

  it('accepts 29 February of leap years only', () => {
    expect(parseUtcNoZone('2024-02-29T00:00:00')?.epochMs).toBe(Date.parse('2024-02-29T00:00:00Z'));
    expect(parseUtcNoZone('2000-02-29T00:00:00')).toBeDefined();
    expect(parseUtcNoZone('2023-02-29T00:00:00')).toBeUndefined();
    expect(parseUtcNoZone('1900-02-29T00:00:00')).toBeUndefined();
  });

  it('accepts the last day of each month and rejects the day after', () => {
    expect(parseUtcNoZone('2022-04-30T23:59:59.999')?.epochMs).toBe(Date.parse('2022-04-30T23:59:59.999Z'));
    expect(parseUtcNoZone('2022-04-31T00:00:00')).toBeUndefined();
    expect(parseUtcNoZone('2022-12-31T23:59:59')).toBeDefined();
    expect(parseUtcNoZone('2022-12-32T00:00:00')).toBeUndefined();
  });

  it.each([
    '',
    '2022-03-22',
    '2022-03-22 12:15:00',
    '2022-03-22T12:15',
    '2022-03-22T12:15:00Z',
    '2022-03-22T12:15:00+01:00',
    '2022-13-01T00:00:00',
    '2022-00-10T00:00:00',
    '2022-01-00T00:00:00',
    '2022-01-01T24:00:00',
    '2022-01-01T23:60:00',
    '2022-01-01T23:59:60',
    '2022-01-01T00:00:00.',
    '2022-01-01T00:00:00.1234567890',
    '22-01-01T00:00:00',
    '+2022-01-01T00:00:00',
    '２０２２-01-01T00:00:00',
  ])('rejects %j', (text) => {
    expect(parseUtcNoZone(text)).toBeUndefined();
  });

  it('does not map two-digit years into the 1900s', () => {
    expect(new Date(parseUtcNoZone('0099-01-01T00:00:00')!.epochMs).getUTCFullYear()).toBe(99);
  });
});

describe('parseTagTime', () => {
  it('needs the Z and accepts with or without milliseconds', () => {
    expect(parseTagTime('2022-03-22T12:15:00.000Z')).toBe(Date.parse('2022-03-22T12:15:00.000Z'));
    expect(parseTagTime('2022-03-22T12:15:00Z')).toBe(Date.parse('2022-03-22T12:15:00Z'));
  });

  it('throws TIME_FORMAT naming the field', () => {
    for (const bad of ['2022-03-22T12:15:00.000', '2022-02-30T00:00:00Z', 'yesterday']) {
      let caught: unknown;
      try {
        parseTagTime(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DomainError);
      expect(caught).toMatchObject({ code: 'TIME_FORMAT', field: 'time' });
    }
  });
});

describe('parseTagTime after a time of the same minute (the remembered minute)', () => {
  const throwsTimeFormat = (text: string): void => {
    expect(() => parseTagTime(text)).toThrow(DomainError);
  };

  it('reads times of the minute it saw last as the full parse does, both shapes, before 1970 too', () => {
    let x = 17;
    const next = (m: number): number => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % m;
    };
    for (let i = 0; i < 2_000; i++) {
      // Runs of times within one minute, from 1901 to 2099; some with whole seconds only.
      const minute = -2_177_452_800_000 + next(6_311_390) * 60_000;
      for (let k = 0; k < 3; k++) {
        const t = minute + next(60_000);
        const iso = new Date(t).toISOString();
        const text = next(4) === 0 ? `${iso.slice(0, 19)}Z` : iso;
        expect(parseTagTime(text)).toBe(Date.parse(text));
      }
    }
  });

  it('still refuses what the full parse refuses, when only the seconds or the ending are wrong', () => {
    expect(parseTagTime('2022-03-22T12:15:30.500Z')).toBe(Date.parse('2022-03-22T12:15:30.500Z'));
    for (const bad of [
      '2022-03-22T12:15:60.000Z',
      '2022-03-22T12:15:60Z',
      '2022-03-22T12:15:3a.000Z',
      '2022-03-22T12:15:30,000Z',
      '2022-03-22T12:15:30.0a0Z',
      '2022-03-22T12:15:30.000z',
      '2022-03-22T12:15:30.0000',
      '2022-03-22T12:15.30.000Z',
    ]) {
      throwsTimeFormat(bad);
    }
    expect(parseTagTime('2022-03-22T12:15:59Z')).toBe(Date.parse('2022-03-22T12:15:59Z'));
    expect(parseTagTime('2022-03-22T12:15:30.1234Z')).toBe(Date.parse('2022-03-22T12:15:30.123Z'));
  });
});

describe('formatting', () => {
  it('formats seconds and milliseconds without zone', () => {
    const t = Date.parse('2024-02-29T23:59:07.045Z');
    expect(formatUtcSeconds(t)).toBe('2024-02-29T23:59:07');
    expect(formatUtcMillis(t)).toBe('2024-02-29T23:59:07.045');
  });

  it('round-trips through parse', () => {
    for (const t of [0, 1, 951_782_400_000, 1_709_251_199_999, 4_102_444_800_000]) {
      expect(parseUtcNoZone(formatUtcMillis(t))?.epochMs).toBe(t);
    }
  });
});
