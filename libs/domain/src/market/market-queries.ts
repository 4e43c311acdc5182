import { TimeRange } from '../time/time-range';
import { parseTagTime } from '../time/utc';
import { invalid, RawQuery, rejectUnknown, single } from '../user-tags/queries';

/** Most windows one request may ask for: a week of one-minute windows. */
export const MAX_MARKET_WINDOWS = 10_080;
export const DEFAULT_MARKET_WINDOWS = 1_440;
/** Instrument names as Deribit spells them: BTC-PERPETUAL, ETH-27MAR26-4000-C, BTC_USDC. */
const INSTRUMENT = /^[A-Z0-9][A-Z0-9_-]{0,63}$/;

export interface WindowsQuery {
  readonly instrument: string;
  readonly range: TimeRange;
  readonly limit: number;
}

/**
 * `GET /market/instruments/{instrument}/windows?from=&to=&limit=`: windows starting in [from, to),
 * the newest `limit` of them. `from` and `to` are ISO-8601 UTC with Z and optional (unbounded on that
 * side); `limit` 1..MAX_MARKET_WINDOWS, default DEFAULT_MARKET_WINDOWS. Throws INVALID_QUERY naming the
 * parameter, or TIME_FORMAT for an impossible date.
 */
export function parseWindowsQuery(instrument: string, query: RawQuery): WindowsQuery {
  rejectUnknown(query, ['from', 'to', 'limit']);
  if (!INSTRUMENT.test(instrument)) {
    throw invalid('instrument', 'instrument must be a Deribit instrument name: A-Z, 0-9, "-" and "_", at most 64');
  }
  const bound = (name: 'from' | 'to'): number | undefined => {
    const text = single(query, name);
    if (text === undefined) return undefined;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/.test(text)) {
      throw invalid(name, `${name} must be ISO-8601 UTC like 2026-03-01T10:00:00Z, got ${JSON.stringify(text)}`);
    }
    return parseTagTime(text, name);
  };
  const fromMs = bound('from') ?? Number.MIN_SAFE_INTEGER;
  const toMs = bound('to') ?? Number.MAX_SAFE_INTEGER;
  if (fromMs >= toMs) throw invalid('to', 'to must be later than from');
  const limitText = single(query, 'limit');
  let limit = DEFAULT_MARKET_WINDOWS;
  if (limitText !== undefined) {
    limit = /^\d{1,6}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_MARKET_WINDOWS)) {
      throw invalid('limit', `limit must be an integer from 1 to ${MAX_MARKET_WINDOWS}`);
    }
  }
  return { instrument, range: { fromMs, toMs }, limit };
}

/** A query without parameters (`/market/instruments`, `/market/latest`): anything given is an error. */
export function parseNoParameters(query: RawQuery): void {
  const [first] = Object.keys(query);
  if (first !== undefined)
    throw invalid(first, `unknown query parameter ${JSON.stringify(first)}: this endpoint takes none`);
}
