/**
 * Reference model of POST /aggregates, and the planner that only asks about buckets whose answer is
 * determined. It keeps every tag of a minute in compact columns and sums by scanning, which shares
 * nothing with the product's pre-aggregated cube. A minute bucket is determined ("settled") when
 *  - no tag still to be sent can land in it (the stream's position, less the lateness of
 *    second-precision tags, is past its end),
 *  - every tag sent into it got its response, the last 204 at least the data latency ago;
 * and for one query, when no uncertain tag (error or timeout) of the bucket matches its action and filters.
 */
import { Rng } from './prng';
import { ACTIONS, Action, GeneratedTag, MAX_LATENESS_MS } from './tag-stream';
import { MS_PER_MINUTE, formatSeconds, minuteOf } from './utc';

export type AggregateFunction = 'COUNT' | 'SUM_PRICE';
export type FilterName = 'origin' | 'brand_id' | 'category_id';
export const FILTER_NAMES: readonly FilterName[] = ['origin', 'brand_id', 'category_id'];

export interface AggregatesAnswer {
  columns: string[];
  rows: string[][];
}

export interface AggregatesQuery {
  fromMs: number;
  toMs: number;
  action: Action;
  aggregates: AggregateFunction[];
  /** Index into the stream's names per filter present. */
  filters: Partial<Record<FilterName, number>>;
}

export interface AggregatePlan {
  query: AggregatesQuery;
  /** Path and query string, URL-encoded, parameters in a random order. */
  path: string;
  expected: AggregatesAnswer;
}

export type AggregateExclusion = 'uncertain bucket' | 'nothing settled';

const PENDING = 0;
const ACKED = 1;
const UNCERTAIN = 2;
const REJECTED = 3;

/** The tags of one event-time minute, column-wise (a minute holds up to 60,000 tags at 1 ms a tag). */
class MinuteTags {
  size = 0;
  action = new Uint8Array(1024);
  origin = new Uint32Array(1024);
  brand = new Uint32Array(1024);
  category = new Uint32Array(1024);
  price = new Int32Array(1024);
  state = new Uint8Array(1024);
  pending = 0;
  uncertain = 0;
  lastAckAt = 0;

  add(tag: GeneratedTag): number {
    if (this.size === this.state.length) this.grow();
    const i = this.size++;
    this.action[i] = tag.action === 'VIEW' ? 0 : 1;
    this.origin[i] = tag.originIdx;
    this.brand[i] = tag.brandIdx;
    this.category[i] = tag.categoryIdx;
    this.price[i] = tag.price;
    this.state[i] = PENDING;
    this.pending++;
    return i;
  }

  private grow(): void {
    const n = this.state.length * 2;
    const copy = <T extends Uint8Array | Uint32Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.action = copy(this.action, (k) => new Uint8Array(k));
    this.origin = copy(this.origin, (k) => new Uint32Array(k));
    this.brand = copy(this.brand, (k) => new Uint32Array(k));
    this.category = copy(this.category, (k) => new Uint32Array(k));
    this.price = copy(this.price, (k) => new Int32Array(k));
    this.state = copy(this.state, (k) => new Uint8Array(k));
  }
}

export interface AggregateRef {
  minute: MinuteTags;
  index: number;
}

export interface AggregateModelOptions {
  /** Data latency: how long after its 204 a tag is sure to be counted. */
  latencyMs: number;
  /** Event-time hours the product keeps behind the newest tag; older buckets are not asked about. */
  retentionHours: number;
  /** Minutes of event time the model keeps (memory bound); older ones are not asked about. */
  keepMinutes: number;
}

export const DEFAULT_AGGREGATE_MODEL: AggregateModelOptions = {
  latencyMs: 5_000,
  retentionHours: 24,
  keepMinutes: 180,
};

export class AggregateModel {
  private readonly minutes = new Map<number, MinuteTags>();
  /** Every minute before this one is settled (monotone: nothing can reopen a settled minute). */
  private settledUpTo: number;
  private newestEventMs = -Infinity;
  /** Buckets before this were dropped from memory. */
  private forgottenBefore = -Infinity;

  constructor(
    private readonly names: { origins: readonly string[]; brands: readonly string[]; categories: readonly string[] },
    private readonly streamStartMs: number,
    readonly options: AggregateModelOptions = DEFAULT_AGGREGATE_MODEL,
  ) {
    this.settledUpTo = minuteOf(streamStartMs - MAX_LATENESS_MS);
  }

  sent(tag: GeneratedTag): AggregateRef {
    const minuteMs = minuteOf(tag.eventMs);
    let minute = this.minutes.get(minuteMs);
    if (minute === undefined) {
      minute = new MinuteTags();
      this.minutes.set(minuteMs, minute);
      this.forgetOld(minuteMs);
    }
    this.newestEventMs = Math.max(this.newestEventMs, tag.eventMs);
    return { minute, index: minute.add(tag) };
  }

  acked(ref: AggregateRef, wallMs: number): void {
    this.resolve(ref, ACKED);
    ref.minute.lastAckAt = Math.max(ref.minute.lastAckAt, wallMs);
  }

  uncertain(ref: AggregateRef): void {
    this.resolve(ref, UNCERTAIN);
    ref.minute.uncertain++;
  }

  rejected(ref: AggregateRef): void {
    this.resolve(ref, REJECTED);
  }

  private resolve(ref: AggregateRef, state: number): void {
    if (ref.minute.state[ref.index] !== PENDING) throw new Error('a tag resolved twice');
    ref.minute.state[ref.index] = state;
    ref.minute.pending--;
  }

  private forgetOld(newMinuteMs: number): void {
    const horizon = newMinuteMs - this.options.keepMinutes * MS_PER_MINUTE;
    for (const m of this.minutes.keys()) {
      if (m < horizon) {
        this.minutes.delete(m);
        this.forgottenBefore = Math.max(this.forgottenBefore, m + MS_PER_MINUTE);
      }
    }
  }

  /**
   * Oldest bucket start that may be asked about: not forgotten by the model, well inside the product's
   * retention, and not absurdly long before the stream (empty buckets before it are fine questions).
   */
  private oldestAskable(): number {
    const beforeStream = minuteOf(this.streamStartMs) - 30 * MS_PER_MINUTE;
    const retained = Number.isFinite(this.newestEventMs)
      ? minuteOf(this.newestEventMs - this.options.retentionHours * 3_600_000) + 10 * MS_PER_MINUTE
      : -Infinity;
    return Math.max(beforeStream, this.forgottenBefore, retained);
  }

  /** Start of the first unsettled minute; every bucket before it is determined. */
  settledFrontier(wallNow: number, streamNextMs: number): number {
    const settledBy = wallNow - this.options.latencyMs;
    // Past the newest tag, minutes stay empty forever once the stream ended: a few of them are askable.
    const newest = minuteOf(Math.max(this.newestEventMs, this.streamStartMs));
    const closedBefore = Math.min(streamNextMs - MAX_LATENESS_MS, newest + 11 * MS_PER_MINUTE);
    for (;;) {
      const end = this.settledUpTo + MS_PER_MINUTE;
      if (end > closedBefore) break;
      const minute = this.minutes.get(this.settledUpTo);
      if (minute !== undefined && (minute.pending > 0 || minute.lastAckAt > settledBy)) break;
      this.settledUpTo = end;
    }
    return this.settledUpTo;
  }

  /** The exact answer from acknowledged tags (settledness is the planner's business). */
  answer(q: AggregatesQuery): AggregatesAnswer {
    const present = FILTER_NAMES.filter((f) => q.filters[f] !== undefined);
    const columns = [
      '1m_bucket',
      'action',
      ...present,
      ...q.aggregates.map((a) => (a === 'COUNT' ? 'count' : 'sum_price')),
    ];
    const filterValues = present.map((f) => this.nameOf(f, q.filters[f] as number));
    const rows: string[][] = [];
    for (let m = q.fromMs; m < q.toMs; m += MS_PER_MINUTE) {
      const { count, sum } = this.scan(m, q, ACKED);
      if (!Number.isSafeInteger(sum)) throw new Error(`sum of prices beyond 2^53 in bucket ${m}`);
      rows.push([
        formatSeconds(m),
        q.action,
        ...filterValues,
        ...q.aggregates.map((a) => String(a === 'COUNT' ? count : sum)),
      ]);
    }
    return { columns, rows };
  }

  /** Number of uncertain tags in the query's buckets that match its action and filters. */
  uncertainMatches(q: AggregatesQuery): number {
    let n = 0;
    for (let m = q.fromMs; m < q.toMs; m += MS_PER_MINUTE) {
      if ((this.minutes.get(m)?.uncertain ?? 0) > 0) n += this.scan(m, q, UNCERTAIN).count;
    }
    return n;
  }

  private scan(minuteMs: number, q: AggregatesQuery, state: number): { count: number; sum: number } {
    const minute = this.minutes.get(minuteMs);
    let count = 0;
    let sum = 0;
    if (minute === undefined) return { count, sum };
    const action = q.action === 'VIEW' ? 0 : 1;
    const o = q.filters.origin ?? -1;
    const b = q.filters.brand_id ?? -1;
    const c = q.filters.category_id ?? -1;
    for (let i = 0; i < minute.size; i++) {
      if (
        minute.state[i] === state &&
        minute.action[i] === action &&
        (o < 0 || minute.origin[i] === o) &&
        (b < 0 || minute.brand[i] === b) &&
        (c < 0 || minute.category[i] === c)
      ) {
        count++;
        sum += minute.price[i] as number;
      }
    }
    return { count, sum };
  }

  private nameOf(filter: FilterName, index: number): string {
    const list =
      filter === 'origin' ? this.names.origins : filter === 'brand_id' ? this.names.brands : this.names.categories;
    return list[index] as string;
  }

  /**
   * A random determined query: 1 to 10 whole minutes ending at or before the settled frontier, any
   * action, any subset of filters (values mostly taken from a tag in the range, so answers are rarely all
   * zero), aggregates in either order.
   */
  plan(rng: Rng, wallNow: number, streamNextMs: number): AggregatePlan | AggregateExclusion {
    const frontier = this.settledFrontier(wallNow, streamNextMs);
    const oldest = this.oldestAskable();
    if (frontier <= oldest) return 'nothing settled';
    const minutes = rng.between(1, 10);
    const lastEnd = frontier;
    const firstEnd = Math.min(lastEnd, oldest + MS_PER_MINUTE);
    const toMs = rng.chance(0.5)
      ? lastEnd
      : firstEnd + rng.between(0, (lastEnd - firstEnd) / MS_PER_MINUTE) * MS_PER_MINUTE;
    const fromMs = Math.max(oldest, toMs - minutes * MS_PER_MINUTE);

    const action = rng.pick(ACTIONS);
    const aggregates = rng.pick<AggregateFunction[]>([
      ['COUNT'],
      ['SUM_PRICE'],
      ['COUNT', 'SUM_PRICE'],
      ['SUM_PRICE', 'COUNT'],
    ]);
    const subset = rng.int(8);
    const sample = rng.chance(0.8) ? this.sampleTag(rng, fromMs, toMs) : undefined;
    const filters: Partial<Record<FilterName, number>> = {};
    const universe = {
      origin: this.names.origins.length,
      brand_id: this.names.brands.length,
      category_id: this.names.categories.length,
    };
    FILTER_NAMES.forEach((f, bit) => {
      if ((subset & (1 << bit)) !== 0) filters[f] = sample?.[f] ?? rng.int(universe[f]);
    });
    const query: AggregatesQuery = { fromMs, toMs, action, aggregates, filters };
    if (this.uncertainMatches(query) > 0) return 'uncertain bucket';

    const params: string[][] = [
      ['time_range', `${formatSeconds(fromMs)}_${formatSeconds(toMs)}`],
      ['action', action],
      ...aggregates.map((a) => ['aggregates', a]),
      ...FILTER_NAMES.filter((f) => filters[f] !== undefined).map((f) => [f, this.nameOf(f, filters[f] as number)]),
    ];
    // The answer's column order is fixed by the contract, never by the order of the parameters; but
    // repeated `aggregates` must keep their relative order, which is the order of the answer's columns.
    const shuffled = rng.shuffled(params.filter((p) => p[0] !== 'aggregates'));
    shuffled.splice(rng.int(shuffled.length + 1), 0, ...params.filter((p) => p[0] === 'aggregates'));
    const qs = shuffled.map(([k, v]) => `${k}=${encodeURIComponent(v as string)}`).join('&');
    return { query, path: `/aggregates?${qs}`, expected: this.answer(query) };
  }

  /** Filter values of a random acknowledged tag in [fromMs, toMs), if one is found in a few tries. */
  private sampleTag(rng: Rng, fromMs: number, toMs: number): Record<FilterName, number> | undefined {
    for (let attempt = 0; attempt < 8; attempt++) {
      const m = fromMs + rng.int((toMs - fromMs) / MS_PER_MINUTE) * MS_PER_MINUTE;
      const minute = this.minutes.get(m);
      if (minute === undefined || minute.size === 0) continue;
      const i = rng.int(minute.size);
      if (minute.state[i] !== ACKED) continue;
      return {
        origin: minute.origin[i] as number,
        brand_id: minute.brand[i] as number,
        category_id: minute.category[i] as number,
      };
    }
    return undefined;
  }
}
