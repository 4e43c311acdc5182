import { DomainError } from '../errors';
import { parseAggregatesQuery, parseProfileQuery } from './queries';

function errorOf(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error('expected a DomainError');
}

const RANGE = '2022-03-22T12:15:00.000_2022-03-22T12:30:00.000';

describe('parseProfileQuery', () => {
  it('defaults the limit to 200', () => {
    expect(parseProfileQuery('c1', { time_range: RANGE })).toEqual({
      cookie: 'c1',
      range: { fromMs: Date.parse('2022-03-22T12:15:00Z'), toMs: Date.parse('2022-03-22T12:30:00Z') },
      limit: 200,
    });
  });

  it.each(['1', '200', '17'])('accepts limit %s', (limit) => {
    expect(parseProfileQuery('c', { time_range: RANGE, limit }).limit).toBe(Number(limit));
  });

  it.each(['0', '201', '-1', '1.5', 'ten', '', ' 5', '1e2', '0200'])('rejects limit %j', (limit) => {
    expect(errorOf(() => parseProfileQuery('c', { time_range: RANGE, limit }))).toMatchObject({
      code: 'INVALID_QUERY',
      field: 'limit',
    });
  });

  it('needs time_range once', () => {
    expect(errorOf(() => parseProfileQuery('c', {})).message).toBe('time_range is required');
    expect(errorOf(() => parseProfileQuery('c', { time_range: [RANGE, RANGE] })).message).toBe(
      'time_range must be given once',
    );
  });

  it('rejects unknown parameters by name', () => {
    const e = errorOf(() => parseProfileQuery('c', { time_range: RANGE, limt: '5' }));
    expect(e.message).toContain('"limt"');
  });

  it('passes time range errors through', () => {
    expect(errorOf(() => parseProfileQuery('c', { time_range: 'x' })).code).toBe('TIME_RANGE_FORMAT');
  });

  it('bounds the cookie length', () => {
    expect(errorOf(() => parseProfileQuery('', { time_range: RANGE })).field).toBe('cookie');
    expect(errorOf(() => parseProfileQuery('x'.repeat(257), { time_range: RANGE })).field).toBe('cookie');
    expect(parseProfileQuery('x'.repeat(256), { time_range: RANGE }).cookie).toHaveLength(256);
  });
});

describe('parseAggregatesQuery', () => {
  const base = { time_range: '2022-03-01T00:05:00_2022-03-01T00:07:00', action: 'BUY' };

  it('keeps the order of aggregates and the filters given', () => {
    expect(parseAggregatesQuery({ ...base, aggregates: ['SUM_PRICE', 'COUNT'], brand_id: 'b', origin: 'o' })).toEqual({
      range: { fromMs: Date.parse('2022-03-01T00:05:00Z'), toMs: Date.parse('2022-03-01T00:07:00Z') },
      action: 'BUY',
      aggregates: ['SUM_PRICE', 'COUNT'],
      filters: { origin: 'o', brand_id: 'b' },
    });
  });

  it('accepts a single aggregate as a string', () => {
    expect(parseAggregatesQuery({ ...base, aggregates: 'COUNT' }).aggregates).toEqual(['COUNT']);
  });

  it.each([
    [{ ...base }, 'aggregates'],
    [{ ...base, aggregates: 'AVG' }, 'aggregates'],
    [{ ...base, aggregates: ['COUNT', 'COUNT'] }, 'aggregates'],
    [{ ...base, aggregates: 'COUNT', action: 'CLICK' }, 'action'],
    [{ time_range: base.time_range, aggregates: 'COUNT' }, 'action'],
    [{ ...base, aggregates: 'COUNT', origin: '' }, 'origin'],
    [{ ...base, aggregates: 'COUNT', brand_id: ['a', 'b'] }, 'brand_id'],
    [{ ...base, aggregates: 'COUNT', category_id: 'c'.repeat(257) }, 'category_id'],
    [{ ...base, aggregates: 'COUNT', country: 'PL' }, 'country'],
  ])('rejects %j naming %s', (query, field) => {
    const e = errorOf(() => parseAggregatesQuery(query));
    expect(e.field).toBe(field);
    expect(e.code).toBe('INVALID_QUERY');
  });

  it('passes time range errors through', () => {
    expect(
      errorOf(() =>
        parseAggregatesQuery({ ...base, aggregates: 'COUNT', time_range: '2022-03-01T00:05:00_2022-03-01T00:25:00' }),
      ).code,
    ).toBe('TIME_RANGE_TOO_LONG');
  });
});
