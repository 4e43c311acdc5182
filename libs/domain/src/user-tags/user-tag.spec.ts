import { DomainError } from '../errors';
import { admissibleEventTime } from './user-tag';

describe('admissibleEventTime', () => {
  const now = Date.parse('2026-12-07T10:00:00.000Z');

  it('accepts the past, the present and the allowed skew ahead, and answers the event time', () => {
    expect(admissibleEventTime({ time: '2022-03-22T12:15:00.000Z' }, now, 300_000)).toBe(
      Date.parse('2022-03-22T12:15:00.000Z'),
    );
    expect(admissibleEventTime({ time: '2026-12-07T10:00:00.000Z' }, now, 0)).toBe(now);
    expect(admissibleEventTime({ time: '2026-12-07T10:05:00.000Z' }, now, 300_000)).toBe(now + 300_000);
  });

  it('refuses a time past the skew with TIME_IN_FUTURE naming the field and the clock', () => {
    const caught = (() => {
      try {
        admissibleEventTime({ time: '2026-12-07T10:05:00.001Z' }, now, 300_000);
      } catch (err) {
        return err;
      }
    })();
    expect(caught).toBeInstanceOf(DomainError);
    expect(caught).toMatchObject({ code: 'TIME_IN_FUTURE', field: 'time' });
    expect((caught as Error).message).toContain('2026-12-07T10:00:00.000Z');
    expect(() => admissibleEventTime({ time: '2099-01-01T00:00:00Z' }, now, 7 * 86_400_000)).toThrow(/ahead/);
  });

  it('still refuses an impossible date first', () => {
    expect(() => admissibleEventTime({ time: '2022-02-30T00:00:00Z' }, now, 0)).toThrow(
      expect.objectContaining({ code: 'TIME_FORMAT' }),
    );
  });
});
