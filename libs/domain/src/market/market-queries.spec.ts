import { DomainError } from '../errors';
import { DEFAULT_MARKET_WINDOWS, MAX_MARKET_WINDOWS, parseNoParameters, parseWindowsQuery } from './market-queries';

const failure = (fn: () => unknown): string => {
  try {
    fn();
    return 'passed';
  } catch (err) {
    return err instanceof DomainError ? `${err.code} ${err.field}` : String(err);
  }
};

describe('market queries', () => {
  it('reads a range and a limit, both optional', () => {
    expect(
      parseWindowsQuery('BTC-PERPETUAL', { from: '2026-03-01T10:00:00Z', to: '2026-03-01T11:00:00.500Z', limit: '60' }),
    ).toEqual({
      instrument: 'BTC-PERPETUAL',
      range: { fromMs: Date.parse('2026-03-01T10:00:00Z'), toMs: Date.parse('2026-03-01T11:00:00.500Z') },
      limit: 60,
    });
    const open = parseWindowsQuery('ETH-27MAR26-4000-C', {});
    expect(open.limit).toBe(DEFAULT_MARKET_WINDOWS);
    expect(open.range.fromMs).toBeLessThan(0);
    expect(open.range.toMs).toBeGreaterThan(Date.parse('9999-01-01T00:00:00Z'));
  });

  it.each([
    ['a lower-case instrument', 'btc-perpetual', {}, 'INVALID_QUERY instrument'],
    ['an instrument with a slash', 'BTC/USD', {}, 'INVALID_QUERY instrument'],
    ['a time without a zone', 'BTC-PERPETUAL', { from: '2026-03-01T10:00:00' }, 'INVALID_QUERY from'],
    ['an impossible date', 'BTC-PERPETUAL', { to: '2026-02-30T10:00:00Z' }, 'TIME_FORMAT to'],
    [
      'to before from',
      'BTC-PERPETUAL',
      { from: '2026-03-01T10:00:00Z', to: '2026-03-01T09:00:00Z' },
      'INVALID_QUERY to',
    ],
    ['limit 0', 'BTC-PERPETUAL', { limit: '0' }, 'INVALID_QUERY limit'],
    ['limit over the maximum', 'BTC-PERPETUAL', { limit: String(MAX_MARKET_WINDOWS + 1) }, 'INVALID_QUERY limit'],
    ['a fractional limit', 'BTC-PERPETUAL', { limit: '1.5' }, 'INVALID_QUERY limit'],
    [
      'a repeated from',
      'BTC-PERPETUAL',
      { from: ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00Z'] },
      'INVALID_QUERY from',
    ],
    ['an unknown parameter', 'BTC-PERPETUAL', { form: '2026-03-01T10:00:00Z' }, 'INVALID_QUERY form'],
  ])('refuses %s', (_what, instrument, query, expected) => {
    expect(failure(() => parseWindowsQuery(instrument, query))).toBe(expected);
  });

  it('refuses any parameter where none is taken', () => {
    expect(failure(() => parseNoParameters({}))).toBe('passed');
    expect(failure(() => parseNoParameters({ x: '1' }))).toBe('INVALID_QUERY x');
  });
});
