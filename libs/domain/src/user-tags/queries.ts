import { DomainError, DomainErrorCode } from '../errors';
import { TimeRange, parseAggregateTimeRange, parseProfileTimeRange } from '../time/time-range';
import { CubeFilters } from './cube-key';
import { ACTIONS, Action, MAX_TEXT_LENGTH } from './user-tag';
import { PROFILE_CAPACITY } from '../ports/profile-store.port';

/**
 * Query-string rules of the two read endpoints. Input is what a query-string parser gives:
 * a string, or an array of strings when a parameter repeats. Unknown parameters are rejected so a
 * misspelt filter (`brandid=`) is an error rather than a silently wider answer.
 */
export type RawQuery = Readonly<Record<string, string | readonly string[] | undefined>>;

export function invalid(field: string, message: string): DomainError {
  return new DomainError(DomainErrorCode.InvalidQuery, message, field);
}

export function rejectUnknown(query: RawQuery, known: readonly string[]): void {
  const unknown = Object.keys(query).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw invalid(
      unknown[0]!,
      `unknown query parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')}; expected ${known.join(', ')}`,
    );
  }
}

export function single(query: RawQuery, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(name, `${name} must be given once`);
  return v;
}

function required(query: RawQuery, name: string): string {
  const v = single(query, name);
  if (v === undefined) throw invalid(name, `${name} is required`);
  return v;
}

function text(query: RawQuery, name: string): string | undefined {
  const v = single(query, name);
  if (v === undefined) return undefined;
  if (v.length === 0 || v.length > MAX_TEXT_LENGTH) {
    throw invalid(name, `${name} must be 1 to ${MAX_TEXT_LENGTH} characters long`);
  }
  return v;
}

export function checkCookie(cookie: string): string {
  if (cookie.length === 0 || cookie.length > MAX_TEXT_LENGTH) {
    throw invalid('cookie', `cookie must be 1 to ${MAX_TEXT_LENGTH} characters long`);
  }
  return cookie;
}

export interface ProfileQuery {
  cookie: string;
  range: TimeRange;
  limit: number;
}

export function parseProfileQuery(cookie: string, query: RawQuery): ProfileQuery {
  rejectUnknown(query, ['time_range', 'limit']);
  const range = parseProfileTimeRange(required(query, 'time_range'));
  const limitText = single(query, 'limit');
  let limit = PROFILE_CAPACITY;
  if (limitText !== undefined) {
    limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit >= 1 && limit <= PROFILE_CAPACITY)) {
      throw invalid(
        'limit',
        `limit must be an integer from 1 to ${PROFILE_CAPACITY}, got ${JSON.stringify(limitText)}`,
      );
    }
  }
  return { cookie: checkCookie(cookie), range, limit };
}

export const AGGREGATE_FUNCTIONS = ['COUNT', 'SUM_PRICE'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

export interface AggregatesQuery {
  range: TimeRange;
  action: Action;
  /** In the order of the query: it is the order of the answer's columns. */
  aggregates: AggregateFunction[];
  filters: CubeFilters;
}

export function parseAggregatesQuery(query: RawQuery): AggregatesQuery {
  rejectUnknown(query, ['time_range', 'action', 'aggregates', 'origin', 'brand_id', 'category_id']);
  const range = parseAggregateTimeRange(required(query, 'time_range'));
  const action = required(query, 'action');
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw invalid('action', `action must be one of ${ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
  }
  const raw = query['aggregates'];
  const list = raw === undefined ? [] : typeof raw === 'string' ? [raw] : [...raw];
  if (list.length === 0) {
    throw invalid('aggregates', `aggregates is required: one or more of ${AGGREGATE_FUNCTIONS.join(', ')}`);
  }
  for (const a of list) {
    if (!(AGGREGATE_FUNCTIONS as readonly string[]).includes(a)) {
      throw invalid('aggregates', `aggregates must be ${AGGREGATE_FUNCTIONS.join(' or ')}, got ${JSON.stringify(a)}`);
    }
  }
  if (new Set(list).size !== list.length) throw invalid('aggregates', 'aggregates must not repeat a function');
  const filters: CubeFilters = {};
  const origin = text(query, 'origin');
  const brandId = text(query, 'brand_id');
  const categoryId = text(query, 'category_id');
  if (origin !== undefined) filters.origin = origin;
  if (brandId !== undefined) filters.brand_id = brandId;
  if (categoryId !== undefined) filters.category_id = categoryId;
  return { range, action: action as Action, aggregates: list as AggregateFunction[], filters };
}
