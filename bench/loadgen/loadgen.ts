/**
 * The load generator: sends the seeded stream of tags at a fixed rate (open loop: the schedule does not
 * wait for answers, only a bound on requests in flight holds it back, and latency is also measured from
 * the scheduled time so a stalled server cannot hide its stall), mixes in profile and aggregates queries
 * whose expected answers come from the reference models, checks every answer itself, and ends with a
 * final round of queries once everything sent is settled.
 */
import { AggregateModel, AggregatePlan, DEFAULT_AGGREGATE_MODEL } from './aggregate-model';
import { Json, firstDifference } from './answer-diff';
import { Histogram, LatencySummary } from './histogram';
import { HttpClient, HttpResult } from './http-client';
import { ProfileModel, ProfilePlan } from './profile-model';
import { Rng } from './prng';
import { DEFAULT_STREAM, StreamConfig, TagStream } from './tag-stream';
import { ENDPOINTS, Endpoint, SecondPoint, Timeline } from './timeline';
import { MS_PER_MINUTE, formatSeconds, minuteOf } from './utc';

export interface LoadgenOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Tags per second to send. */
  rate: number;
  /** Bound in time of the sending phase, seconds. */
  durationS: number;
  /** Bound in count of tags sent (Infinity: only the duration bounds). */
  maxTags: number;
  /** Most requests in flight; the schedule waits (and the wait counts in corrected latency) beyond it. */
  concurrency: number;
  /** One profile query after every `profileEvery` tags (0: none). */
  profileEvery: number;
  /** One aggregates query after every `aggregateEvery` tags (0: none). */
  aggregateEvery: number;
  /** A 204'd tag is in its profile within this (contract: 1 s). */
  profileLatencyMs: number;
  /** A 204'd tag is counted in /aggregates within this (contract: 5 s). */
  aggregateLatencyMs: number;
  timeoutMs: number;
  /** Newest tags per cookie and action the product keeps (contract: at least 200; also the largest limit). */
  profileCapacity: number;
  retentionHours: number;
  /** Queries of each kind in the final round, after the stream ended and settled. */
  finalQueries: number;
  /** Differences kept in the report per query kind. */
  maxDiffs: number;
  stream: StreamConfig;
  /**
   * Send each query's expected answer in its body (debug mode). Off: bodiless queries, as production
   * clients send them; the loadgen still checks every answer itself.
   */
  debugBodies: boolean;
  /** Called about once a second while running. */
  onProgress?: (p: Progress) => void;
}

export const DEFAULT_OPTIONS: Omit<LoadgenOptions, 'url' | 'stream'> & { seed: number } = {
  rate: 1_000,
  durationS: 60,
  maxTags: Infinity,
  concurrency: 256,
  profileEvery: 10,
  aggregateEvery: 1_000,
  profileLatencyMs: 1_000,
  aggregateLatencyMs: 5_000,
  timeoutMs: 2_000,
  profileCapacity: 200,
  retentionHours: 24,
  finalQueries: 100,
  maxDiffs: 5,
  debugBodies: true,
  seed: 7,
};

export function defaultStream(seed: number): StreamConfig {
  return { ...DEFAULT_STREAM, seed };
}

export interface Progress {
  phase: 'send' | 'drain' | 'settle' | 'final';
  elapsedS: number;
  tagsSent: number;
  /** Tags sent per second over the last interval. */
  sendRate: number;
  inFlight: number;
  errors: number;
  correct: number;
  wrong: number;
  excluded: number;
  p99: Record<Endpoint, number>;
}

export interface Diff {
  request: string;
  at: string;
  expected: Json | undefined;
  actual: Json | undefined;
  /**
   * The same query asked again RECHECK_MS later (without a debug body): 'late' when it then matched
   * (the data arrived after the promised latency); if not, asked once more RECHECK_MS after the stream
   * ended and settled: 'late after the run' when it matched then (a system falling behind the offered
   * rate), 'still wrong' when not; 'indeterminate'/'failed' when it could not be told.
   */
  recheck?: 'late' | 'late after the run' | 'still wrong' | 'indeterminate' | 'failed';
}

export interface ErrorSample {
  request: string;
  outcome: string;
  body?: string;
}

export interface QueryReport {
  sent: number;
  correct: number;
  wrong: number;
  errors: number;
  /** Answered, but tags sent meanwhile may have trimmed an expected one: proves nothing either way. */
  indeterminate: number;
  /** Not asked, because no determined question was available; by reason. */
  excluded: Record<string, number>;
  /** Of `sent`, asked in the final round. */
  final: number;
  /** Of `wrong`, answers that were right when asked again (Diff.recheck): data later than promised. */
  late: number;
  /** Of `wrong`, what asking again RECHECK_MS later gave, by outcome (late is the count above). */
  rechecked: Record<NonNullable<Diff['recheck']>, number>;
  diffs: Diff[];
  errorSamples: ErrorSample[];
}

export interface TagReport {
  sent: number;
  accepted: number;
  /** 4xx: the product refused a tag the generator considers valid. */
  rejected: number;
  /** 5xx or another unexpected status. */
  failed: number;
  timedOut: number;
  networkErrors: number;
  /** Errors and timeouts: may or may not be stored; their cookies and buckets are kept out of checks. */
  uncertain: number;
  errorSamples: ErrorSample[];
}

export interface LoadgenReport {
  tool: 'loadgen';
  url: string;
  startedAt: string;
  finishedAt: string;
  options: Record<string, string | number | boolean>;
  stream: StreamConfig;
  /** Length of the sending phase, s. */
  sendSeconds: number;
  targetRate: number;
  /** Tags sent per second over the sending phase. */
  achievedRate: number;
  /** Tags acknowledged per second over the sending phase. */
  acceptedRate: number;
  eventTime: { first: string; last: string };
  tags: TagReport;
  queries: Record<'user_profiles' | 'aggregates', QueryReport>;
  /** From sending the request to the end of its response. */
  latency: Record<Endpoint, LatencySummary>;
  /** From the scheduled send time (includes waiting for a free slot: coordinated omission corrected). */
  scheduledLatency: Record<Endpoint, LatencySummary>;
  scheduler: { lagP99Ms: number; lagMaxMs: number; sendsLateOver10Ms: number };
  /** Distinct cookies sent; cookies and minute buckets holding an uncertain tag (kept out of checks). */
  model: { cookies: number; uncertainCookies: number; uncertainBuckets: number };
  /** debug_comparisons_total of the gateway's /metrics, change over the run (undefined: not served). */
  gatewayComparisons?: Record<string, number>;
  timeline: SecondPoint[];
  passed: boolean;
  failures: string[];
}

type Kind = 'user_profiles' | 'aggregates';

/** How long after a wrong answer the query is asked again (see Diff.recheck). */
const RECHECK_MS = 5_000;

function newQueryReport(): QueryReport {
  return {
    sent: 0,
    correct: 0,
    wrong: 0,
    errors: 0,
    indeterminate: 0,
    excluded: {},
    final: 0,
    late: 0,
    rechecked: { late: 0, 'late after the run': 0, 'still wrong': 0, indeterminate: 0, failed: 0 },
    diffs: [],
    errorSamples: [],
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function describe(r: HttpResult): string {
  return r.kind === 'response' ? `HTTP ${r.status}` : r.kind === 'timeout' ? 'timeout' : `network error: ${r.message}`;
}

/** Sums of `debug_comparisons_total` by endpoint and result in Prometheus text. */
export function parseComparisons(metricsText: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of metricsText.split('\n')) {
    const m = /^debug_comparisons_total\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null) continue;
    const labels = Object.fromEntries([...(m[1] as string).matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const k = `${labels.endpoint ?? '?'}/${labels.result ?? '?'}`;
    out[k] = (out[k] ?? 0) + Number(m[2]);
  }
  return out;
}

export class Loadgen {
  private readonly client: HttpClient;
  private readonly stream: TagStream;
  private readonly profiles: ProfileModel;
  private readonly aggregates: AggregateModel;
  private readonly queryRng: Rng;
  private readonly tags: TagReport = {
    sent: 0,
    accepted: 0,
    rejected: 0,
    failed: 0,
    timedOut: 0,
    networkErrors: 0,
    uncertain: 0,
    errorSamples: [],
  };
  private readonly queries: Record<Kind, QueryReport> = {
    user_profiles: newQueryReport(),
    aggregates: newQueryReport(),
  };
  private readonly latency = Object.fromEntries(ENDPOINTS.map((e) => [e, new Histogram()])) as Record<
    Endpoint,
    Histogram
  >;
  private readonly scheduled = Object.fromEntries(ENDPOINTS.map((e) => [e, new Histogram()])) as Record<
    Endpoint,
    Histogram
  >;
  /** Latency of the last progress interval, for the live p99. */
  private recent = Object.fromEntries(ENDPOINTS.map((e) => [e, new Histogram()])) as Record<Endpoint, Histogram>;
  private readonly lag = new Histogram();
  private sendsLate = 0;
  private inFlight = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /** Cookies of recently sent tags: profile queries mostly ask about active users. */
  private readonly recentCookies: string[] = [];
  private streamEnded = false;
  private readonly uncertainCookies = new Set<string>();
  private readonly uncertainMinutes = new Set<number>();
  /** Re-checks of wrong answers still running; the report waits for them. */
  private readonly rechecks: Promise<void>[] = [];
  /** Resolves when the stream has ended and settled (the final round begins). */
  private settled!: () => void;
  private readonly settledOnce = new Promise<void>((resolve) => (this.settled = resolve));
  private lastAckAt = 0;
  private phase: Progress['phase'] = 'send';
  private final = false;
  private timeline!: Timeline;
  private t0 = 0;

  constructor(private readonly o: LoadgenOptions) {
    for (const [name, v] of Object.entries({ rate: o.rate, concurrency: o.concurrency, timeoutMs: o.timeoutMs })) {
      if (!(v > 0)) throw new RangeError(`${name} must be positive, got ${v}`);
    }
    if (!(o.durationS > 0) && !Number.isFinite(o.maxTags)) throw new RangeError('give a duration or a number of tags');
    this.client = new HttpClient(o.url, o.concurrency);
    this.stream = new TagStream(o.stream);
    this.profiles = new ProfileModel({ capacity: o.profileCapacity, latencyMs: o.profileLatencyMs, margin: 50 });
    this.aggregates = new AggregateModel(
      { origins: this.stream.originNames, brands: this.stream.brandNames, categories: this.stream.categoryNames },
      o.stream.startMs,
      { ...DEFAULT_AGGREGATE_MODEL, latencyMs: o.aggregateLatencyMs, retentionHours: o.retentionHours },
    );
    this.queryRng = new Rng(o.stream.seed, 'queries');
  }

  async run(): Promise<LoadgenReport> {
    const startedAt = new Date();
    const before = await this.comparisons();
    this.t0 = performance.now();
    this.timeline = new Timeline(this.t0);
    let lastProgress = { at: this.t0, sent: 0 };
    const progress = setInterval(() => {
      const now = performance.now();
      this.o.onProgress?.(this.progress(now, (this.tags.sent - lastProgress.sent) / ((now - lastProgress.at) / 1000)));
      lastProgress = { at: now, sent: this.tags.sent };
      this.recent = Object.fromEntries(ENDPOINTS.map((e) => [e, new Histogram()])) as Record<Endpoint, Histogram>;
    }, 1_000);
    try {
      const sendSeconds = await this.sendPhase();
      const tagsSent = this.tags.sent;
      const accepted = this.tags.accepted;

      this.phase = 'drain';
      await this.drained(this.o.timeoutMs + 5_000);
      this.streamEnded = true;
      this.phase = 'settle';
      const settleFor = Math.max(this.o.profileLatencyMs, this.o.aggregateLatencyMs) + 250;
      await sleep(Math.max(0, this.lastAckAt + settleFor - performance.now()));
      this.phase = 'final';
      this.final = true;
      this.settled();
      await this.finalRound();
      await this.drained(this.o.timeoutMs + 5_000);
      await Promise.all(this.rechecks);

      const after = await this.comparisons();
      return this.report(startedAt, sendSeconds, tagsSent, accepted, before, after);
    } finally {
      clearInterval(progress);
      this.client.close();
    }
  }

  /** Sends on schedule until the duration or the count is reached; returns how long it took, s. */
  private sendPhase(): Promise<number> {
    const o = this.o;
    const intervalMs = 1_000 / o.rate;
    const deadline = this.t0 + o.durationS * 1_000;
    let issued = 0;
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const tick = (): void => {
        timer = undefined;
        const now = performance.now();
        if (now >= deadline || issued >= o.maxTags) {
          this.wake = undefined;
          resolve((now - this.t0) / 1_000);
          return;
        }
        const due = Math.min(o.maxTags, Math.floor((now - this.t0) / intervalMs) + 1);
        while (issued < due && this.inFlight < o.concurrency) {
          const intended = this.t0 + issued * intervalMs;
          const late = now - intended;
          this.lag.record(late);
          if (late > 10) this.sendsLate++;
          this.sendTag(intended);
          issued++;
          if (o.profileEvery > 0 && issued % o.profileEvery === 0) this.askProfile(intended, this.pickCookie());
          if (o.aggregateEvery > 0 && issued % o.aggregateEvery === 0) this.askAggregates(intended);
        }
        if (issued < due) return; // blocked on in-flight: a response wakes us (see settle())
        const next = Math.min(deadline, this.t0 + issued * intervalMs);
        timer = setTimeout(tick, Math.max(0, next - performance.now()));
      };
      this.wake = () => {
        if (timer === undefined) tick();
      };
      tick();
    });
  }

  /** Resumes a sender blocked on the in-flight bound. */
  private wake: (() => void) | undefined;

  private begin(endpoint: Endpoint): number {
    this.inFlight++;
    const at = performance.now();
    this.timeline.sent(endpoint, at);
    return at;
  }

  /** Bookkeeping common to every response; returns the wall time of its arrival. */
  private settle(endpoint: Endpoint, sentAt: number, intended: number, ok: boolean): number {
    const at = performance.now();
    this.inFlight--;
    this.latency[endpoint].record(at - sentAt);
    this.recent[endpoint].record(at - sentAt);
    this.scheduled[endpoint].record(at - intended);
    this.timeline.answered(endpoint, at, at - sentAt, ok);
    if (this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
    if (this.wake !== undefined) setImmediate(() => this.wake?.());
    return at;
  }

  private sendTag(intended: number): void {
    const tag = this.stream.next();
    const record = this.profiles.sent(tag);
    const ref = this.aggregates.sent(tag);
    this.tags.sent++;
    if (this.recentCookies.length < 65_536) this.recentCookies.push(tag.cookie);
    else this.recentCookies[tag.seq % 65_536] = tag.cookie;
    const sentAt = this.begin('user_tags');
    void this.client.post('/user_tags', tag.json, this.o.timeoutMs).then((r) => {
      const ok = r.kind === 'response' && r.status === 204;
      const at = this.settle('user_tags', sentAt, intended, ok);
      if (ok) {
        this.tags.accepted++;
        this.profiles.acked(record, at);
        this.aggregates.acked(ref, at);
        this.lastAckAt = Math.max(this.lastAckAt, at);
        return;
      }
      if (r.kind === 'response' && r.status >= 400 && r.status < 500) {
        // The contract: a refused tag is not written.
        this.tags.rejected++;
        this.profiles.rejected(record);
        this.aggregates.rejected(ref);
      } else {
        if (r.kind === 'timeout') this.tags.timedOut++;
        else if (r.kind === 'network') this.tags.networkErrors++;
        else this.tags.failed++;
        this.tags.uncertain++;
        this.uncertainCookies.add(tag.cookie);
        this.uncertainMinutes.add(minuteOf(tag.eventMs));
        this.profiles.uncertain(record);
        this.aggregates.uncertain(ref);
      }
      if (this.tags.errorSamples.length < this.o.maxDiffs) {
        this.tags.errorSamples.push({
          request: `POST /user_tags ${tag.json}`,
          outcome: describe(r),
          body: r.kind === 'response' ? r.body.slice(0, 500) : undefined,
        });
      }
    });
  }

  private pickCookie(): string {
    const rng = this.queryRng;
    if (this.recentCookies.length > 0 && rng.chance(0.7)) return rng.pick(this.recentCookies);
    return rng.pick(this.profiles.distinctCookies);
  }

  private streamNextMs(): number {
    return this.streamEnded ? Infinity : this.stream.nominalTime(this.stream.generated);
  }

  private askProfile(intended: number, cookie: string): Promise<void> {
    const plan = this.profiles.plan(cookie, this.queryRng, performance.now(), this.streamNextMs());
    if (typeof plan === 'string') return this.exclude('user_profiles', plan);
    return this.ask('user_profiles', intended, plan.path, plan.expectedJson, () =>
      this.profiles.stillDetermined(plan as ProfilePlan),
    );
  }

  private askAggregates(intended: number, chosen?: AggregatePlan): Promise<void> {
    const plan = chosen ?? this.aggregates.plan(this.queryRng, performance.now(), this.streamNextMs());
    if (typeof plan === 'string') return this.exclude('aggregates', plan);
    return this.ask('aggregates', intended, plan.path, JSON.stringify(plan.expected), () => true);
  }

  private exclude(kind: Kind, reason: string): Promise<void> {
    const q = this.queries[kind];
    q.excluded[reason] = (q.excluded[reason] ?? 0) + 1;
    return Promise.resolve();
  }

  private async ask(
    kind: Kind,
    intended: number,
    path: string,
    /** The expected answer as JSON text: sent as is, parsed only to compare. */
    expectedJson: string,
    determined: () => boolean,
  ): Promise<void> {
    const q = this.queries[kind];
    q.sent++;
    if (this.final) q.final++;
    const sentAt = this.begin(kind);
    // Debug mode: the body carries the expected answer, so the gateway can count and log mismatches too.
    const r = this.o.debugBodies
      ? await this.client.post(path, expectedJson, this.o.timeoutMs)
      : await this.client.postEmpty(path, this.o.timeoutMs);
    const ok = r.kind === 'response' && r.status === 200;
    const at = this.settle(kind, sentAt, intended, ok);
    if (!ok || r.kind !== 'response') {
      q.errors++;
      if (q.errorSamples.length < this.o.maxDiffs) {
        q.errorSamples.push({
          request: `POST ${path}`,
          outcome: describe(r),
          body: r.kind === 'response' ? r.body.slice(0, 500) : undefined,
        });
      }
      return;
    }
    let actual: Json;
    try {
      actual = JSON.parse(r.body) as Json;
    } catch {
      q.errors++;
      q.errorSamples.push({
        request: `POST ${path}`,
        outcome: 'HTTP 200 with a body that is not JSON',
        body: r.body.slice(0, 500),
      });
      return;
    }
    if (!determined()) {
      q.indeterminate++;
      return;
    }
    const expected = JSON.parse(expectedJson) as Json;
    const diff = firstDifference(expected, actual);
    if (diff === undefined) {
      q.correct++;
      return;
    }
    q.wrong++;
    this.timeline.wrong(at);
    const record: Diff = { request: `POST ${path}`, at: diff.path, expected: diff.expected, actual: diff.actual };
    if (q.diffs.length < this.o.maxDiffs) q.diffs.push(record);
    this.rechecks.push(this.recheck(q, path, expected, determined, record));
  }

  /**
   * Asks a wrongly answered query again a while later, to tell data that arrived late (a latency
   * violation) from data that is wrong for good. Without a debug body, so the gateway's counters only
   * count what the run itself asked.
   */
  private async recheck(
    q: QueryReport,
    path: string,
    expected: Json,
    determined: () => boolean,
    record: Diff,
  ): Promise<void> {
    await sleep(RECHECK_MS);
    let final: NonNullable<Diff['recheck']>;
    const soon = await this.askAgain(path, expected, determined);
    if (soon !== 'wrong') final = soon;
    else {
      await this.settledOnce;
      await sleep(RECHECK_MS);
      const after = await this.askAgain(path, expected, determined);
      final = after === 'late' ? 'late after the run' : after === 'wrong' ? 'still wrong' : after;
    }
    record.recheck = final;
    q.rechecked[final]++;
    if (final === 'late' || final === 'late after the run') q.late++;
  }

  private async askAgain(
    path: string,
    expected: Json,
    determined: () => boolean,
  ): Promise<'late' | 'wrong' | 'indeterminate' | 'failed'> {
    const r = await this.client.postEmpty(path, this.o.timeoutMs);
    if (r.kind !== 'response' || r.status !== 200) return 'failed';
    if (!determined()) return 'indeterminate';
    let again: Json;
    try {
      again = JSON.parse(r.body) as Json;
    } catch {
      return 'failed';
    }
    return firstDifference(expected, again) === undefined ? 'late' : 'wrong';
  }

  private drained(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    // The timer goes when drained first: a pending one would keep the process (or Jest) alive for timeoutMs.
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      new Promise<void>((r) => this.idleWaiters.push(r)),
      new Promise<void>((r) => (timer = setTimeout(r, timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  /**
   * After the stream ended and settled, everything is determined: a sweep of every minute of the run
   * per action (no filters, both aggregates), then random queries of both kinds.
   */
  private async finalRound(): Promise<void> {
    const tasks: (() => Promise<void>)[] = [];
    if (this.o.aggregateEvery > 0 && this.tags.sent > 0) {
      const first = minuteOf(this.o.stream.startMs);
      const last = minuteOf(this.stream.nominalTime(this.stream.generated - 1)) + MS_PER_MINUTE;
      // The model keeps a bounded window; sweep at most its last 3 hours.
      const from = Math.max(first, last - 180 * MS_PER_MINUTE);
      for (let m = from; m < last; m += 10 * MS_PER_MINUTE) {
        for (const action of ['VIEW', 'BUY'] as const) {
          tasks.push(() => {
            const query = {
              fromMs: m,
              toMs: Math.min(last, m + 10 * MS_PER_MINUTE),
              action,
              aggregates: ['COUNT', 'SUM_PRICE'] as ('COUNT' | 'SUM_PRICE')[],
              filters: {},
            };
            if (this.aggregates.settledFrontier(performance.now(), Infinity) < query.toMs) {
              return this.exclude('aggregates', 'nothing settled');
            }
            if (this.aggregates.uncertainMatches(query) > 0) return this.exclude('aggregates', 'uncertain bucket');
            const path = `/aggregates?time_range=${formatSeconds(query.fromMs)}_${formatSeconds(query.toMs)}&action=${action}&aggregates=COUNT&aggregates=SUM_PRICE`;
            return this.askAggregates(performance.now(), { query, path, expected: this.aggregates.answer(query) });
          });
        }
      }
      for (let i = 0; i < this.o.finalQueries; i++) tasks.push(() => this.askAggregates(performance.now()));
    }
    if (this.o.profileEvery > 0 && this.tags.sent > 0) {
      for (let i = 0; i < this.o.finalQueries; i++)
        tasks.push(() => this.askProfile(performance.now(), this.pickCookie()));
    }
    // A few at a time: the point is correctness, not load.
    const workers = Array.from({ length: Math.min(8, this.o.concurrency) }, async () => {
      for (let task = tasks.shift(); task !== undefined; task = tasks.shift()) await task();
    });
    await Promise.all(workers);
  }

  private async comparisons(): Promise<Record<string, number> | undefined> {
    const r = await this.client.get('/metrics', this.o.timeoutMs);
    if (r.kind !== 'response' || r.status !== 200) return undefined;
    return parseComparisons(r.body);
  }

  progress(now: number, sendRate: number): Progress {
    const q = Object.values(this.queries);
    const p99 = Object.fromEntries(ENDPOINTS.map((e) => [e, this.recent[e].percentile(99)])) as Record<
      Endpoint,
      number
    >;
    return {
      phase: this.phase,
      elapsedS: (now - this.t0) / 1_000,
      tagsSent: this.tags.sent,
      sendRate,
      inFlight: this.inFlight,
      errors:
        this.tags.rejected +
        this.tags.failed +
        this.tags.timedOut +
        this.tags.networkErrors +
        q.reduce((s, r) => s + r.errors, 0),
      correct: q.reduce((s, r) => s + r.correct, 0),
      wrong: q.reduce((s, r) => s + r.wrong, 0),
      excluded: q.reduce((s, r) => s + r.indeterminate + Object.values(r.excluded).reduce((a, b) => a + b, 0), 0),
      p99,
    };
  }

  private pendingTags(): number {
    const t = this.tags;
    return t.sent - t.accepted - t.rejected - t.failed - t.timedOut - t.networkErrors;
  }

  private report(
    startedAt: Date,
    sendSeconds: number,
    tagsSent: number,
    acceptedInSend: number,
    before: Record<string, number> | undefined,
    after: Record<string, number> | undefined,
  ): LoadgenReport {
    const o = this.o;
    const failures: string[] = [];
    const t = this.tags;
    if (t.sent !== t.accepted) {
      failures.push(
        `${t.sent - t.accepted} of ${t.sent} tags not accepted (rejected ${t.rejected}, failed ${t.failed}, ` +
          `timed out ${t.timedOut}, network ${t.networkErrors}, unanswered ${this.pendingTags()})`,
      );
    }
    for (const kind of ['user_profiles', 'aggregates'] as const) {
      const q = this.queries[kind];
      if (q.wrong > 0) failures.push(`${q.wrong} wrong answers to ${kind} queries`);
      if (q.errors > 0) failures.push(`${q.errors} ${kind} queries failed`);
    }
    let gatewayComparisons: Record<string, number> | undefined;
    if (after !== undefined) {
      gatewayComparisons = {};
      for (const [k, v] of Object.entries(after)) gatewayComparisons[k] = v - (before?.[k] ?? 0);
      const mismatches = Object.entries(gatewayComparisons)
        .filter(([k, v]) => k.endsWith('/mismatch') && v > 0)
        .map(([k, v]) => [k.slice(0, -'/mismatch'.length), v] as const);
      // The gateway also compares answers the loadgen never judged: queries that timed out here (the
      // gateway still answered, later) and indeterminate ones (tags sent meanwhile may have trimmed an
      // expected one). Only mismatches beyond those mean the two checks disagree, which is a finding.
      for (const [endpoint, n] of mismatches) {
        const q = this.queries[endpoint as Kind] as QueryReport | undefined;
        const unjudged = q === undefined ? 0 : q.errors + q.indeterminate;
        if (q !== undefined && n > q.wrong + unjudged) {
          failures.push(
            `the gateway counted ${n} ${endpoint} mismatches, more than the ${q.wrong} wrong, ${q.errors} failed and ` +
              `${q.indeterminate} indeterminate answers seen here`,
          );
        }
      }
    }
    const summaries = (h: Record<Endpoint, Histogram>): Record<Endpoint, LatencySummary> =>
      Object.fromEntries(ENDPOINTS.map((e) => [e, h[e].summary()])) as Record<Endpoint, LatencySummary>;
    const firstMs = o.stream.startMs;
    const lastMs = this.stream.nominalTime(Math.max(0, this.stream.generated - 1));
    return {
      tool: 'loadgen',
      url: o.url,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      options: {
        seed: o.stream.seed,
        rate: o.rate,
        durationS: o.durationS,
        maxTags: Number.isFinite(o.maxTags) ? o.maxTags : 'unbounded',
        concurrency: o.concurrency,
        profileEvery: o.profileEvery,
        aggregateEvery: o.aggregateEvery,
        profileLatencyMs: o.profileLatencyMs,
        aggregateLatencyMs: o.aggregateLatencyMs,
        timeoutMs: o.timeoutMs,
        profileCapacity: o.profileCapacity,
        finalQueries: o.finalQueries,
        debugBodies: o.debugBodies,
      },
      stream: o.stream,
      sendSeconds,
      targetRate: o.rate,
      achievedRate: tagsSent / sendSeconds,
      acceptedRate: acceptedInSend / sendSeconds,
      eventTime: {
        first: formatSeconds(Math.floor(firstMs / 1000) * 1000),
        last: formatSeconds(Math.floor(lastMs / 1000) * 1000),
      },
      tags: t,
      queries: this.queries,
      latency: summaries(this.latency),
      scheduledLatency: summaries(this.scheduled),
      scheduler: { lagP99Ms: this.lag.percentile(99), lagMaxMs: this.lag.max, sendsLateOver10Ms: this.sendsLate },
      model: {
        cookies: this.profiles.cookieCount,
        uncertainCookies: this.uncertainCookies.size,
        uncertainBuckets: this.uncertainMinutes.size,
      },
      gatewayComparisons,
      timeline: this.timeline.points(),
      passed: failures.length === 0,
      failures,
    };
  }
}
