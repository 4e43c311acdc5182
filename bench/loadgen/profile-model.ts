/**
 * Reference model of POST /user_profiles, and the planner that only asks questions whose answer is
 * determined. A profile answer is determined when:
 *  (a) every tag of the cookie in [from, to) was acknowledged (204) at least the data latency ago, and
 *      none is uncertain (error or timeout: it may or may not be stored);
 *  (b) no tag still to be sent can fall in [from, to) (`to` stays below the stream's position, less the
 *      lateness of second-precision tags);
 *  (c) trimming cannot have removed an expected tag: the product keeps at least the `capacity` newest
 *      tags per cookie and action, so each expected tag must have fewer than `capacity` newer ones among
 *      everything sent (acknowledged, in flight or uncertain). Checked again when the answer arrives,
 *      since tags sent meanwhile count too.
 * Tie order of equal times is unspecified in the contract; the stream never gives one cookie and action
 * two tags at the same millisecond, so newest-first is a total order here.
 */
import { Rng } from './prng';
import { ACTIONS, Action, GeneratedTag, MAX_LATENESS_MS, TagJson } from './tag-stream';
import { formatProfileBound } from './utc';

export type TagState = 'pending' | 'acked' | 'uncertain' | 'rejected';

export interface ModelTag {
  readonly seq: number;
  readonly eventMs: number;
  readonly cookie: string;
  /** The tag exactly as sent (JSON text: half the memory of the parsed object, and no re-serialising). */
  readonly json: string;
  state: TagState;
  /** Wall-clock ms when the 204 arrived (acked only). */
  ackedAt: number;
}

export interface ProfileAnswer {
  cookie: string;
  views: TagJson[];
  buys: TagJson[];
}

export interface ProfileModelOptions {
  /** Newest tags per cookie and action the product promises to keep (200). */
  capacity: number;
  /** Data latency: how long after its 204 a tag is sure to be visible. */
  latencyMs: number;
  /**
   * Expected tags stay this many places clear of the trimming edge, so that tags sent while the query is
   * in flight rarely make it indeterminate.
   */
  margin: number;
}

export const DEFAULT_PROFILE_MODEL: ProfileModelOptions = { capacity: 200, latencyMs: 1_000, margin: 50 };

/** Why a profile query could not be asked with a determined answer. */
export type ProfileExclusion = 'no settled window';

export interface ProfilePlan {
  cookie: string;
  fromMs: number;
  toMs: number;
  /** Undefined: the query omits `limit` (the product's default, 200, applies). */
  limit: number | undefined;
  /** Path and query string, URL-encoded. */
  path: string;
  /** The expected answer (a ProfileAnswer) as JSON text, built from the tags as they were sent. */
  expectedJson: string;
  /** Per action, the oldest expected tag (trimming check on arrival). */
  oldest: Partial<Record<Action, number>>;
}

class CookieHistory {
  /** Per action, ascending by event time. */
  readonly lists: Record<Action, ModelTag[]> = { VIEW: [], BUY: [] };
}

export class ProfileModel {
  private readonly cookies = new Map<string, CookieHistory>();
  /** Distinct cookies in order of first appearance, for uniform picks. */
  readonly distinctCookies: string[] = [];
  /** How many tags of one cookie and action are kept: enough to count the newest `capacity` exactly. */
  private readonly keep: number;

  constructor(readonly options: ProfileModelOptions = DEFAULT_PROFILE_MODEL) {
    this.keep = options.capacity * 2;
  }

  get cookieCount(): number {
    return this.cookies.size;
  }

  /** A tag was sent (state pending). Returns its model record, to be resolved when the response comes. */
  sent(tag: GeneratedTag): ModelTag {
    let history = this.cookies.get(tag.cookie);
    if (history === undefined) {
      history = new CookieHistory();
      this.cookies.set(tag.cookie, history);
      this.distinctCookies.push(tag.cookie);
    }
    const record: ModelTag = {
      seq: tag.seq,
      eventMs: tag.eventMs,
      cookie: tag.cookie,
      json: tag.json,
      state: 'pending',
      ackedAt: 0,
    };
    const list = history.lists[tag.action];
    // Late (second-precision) tags go back at most a second: insertion near the end.
    let i = list.length;
    while (i > 0 && (list[i - 1] as ModelTag).eventMs > record.eventMs) i--;
    list.splice(i, 0, record);
    // Older tags can never be expected (planning stays within the newest `capacity`), but stay counted
    // until they are well past the trimming edge.
    if (list.length > this.keep + 64) list.splice(0, list.length - this.keep);
    return record;
  }

  acked(record: ModelTag, wallMs: number): void {
    record.state = 'acked';
    record.ackedAt = wallMs;
  }

  uncertain(record: ModelTag): void {
    record.state = 'uncertain';
  }

  /** A 4xx: the product wrote nothing, so the tag is simply not there. */
  rejected(record: ModelTag): void {
    record.state = 'rejected';
    for (const action of ACTIONS) {
      const history = this.cookies.get(record.cookie);
      const list = history?.lists[action];
      const i = list?.indexOf(record) ?? -1;
      if (list !== undefined && i >= 0) list.splice(i, 1);
    }
  }

  /** The answer for a range, from the tags known acknowledged (no settledness check: see plan()). */
  answer(cookie: string, fromMs: number, toMs: number, limit: number): ProfileAnswer {
    const history = this.cookies.get(cookie);
    const body = (t: ModelTag): TagJson => JSON.parse(t.json) as TagJson;
    return {
      cookie,
      views: select(history, 'VIEW', fromMs, toMs, limit).map(body),
      buys: select(history, 'BUY', fromMs, toMs, limit).map(body),
    };
  }

  /**
   * A random determined query for `cookie`, or why there is none.
   * @param streamNextMs nominal event time of the next tag to be sent (Infinity once the stream ended)
   */
  plan(cookie: string, rng: Rng, wallNow: number, streamNextMs: number): ProfilePlan | ProfileExclusion {
    const history = this.cookies.get(cookie) ?? new CookieHistory();
    const { capacity, margin, latencyMs } = this.options;
    const settledBy = wallNow - latencyMs;

    // (c) Only the newest (capacity - margin) of each action may be expected.
    let floorMs = -Infinity;
    let oldestKnown = Infinity;
    let newestKnown = -Infinity;
    for (const action of ACTIONS) {
      const list = history.lists[action];
      const edge = capacity - margin;
      if (list.length >= edge) floorMs = Math.max(floorMs, (list[list.length - edge] as ModelTag).eventMs);
      if (list.length > 0) {
        oldestKnown = Math.min(oldestKnown, (list[0] as ModelTag).eventMs);
        newestKnown = Math.max(newestKnown, (list[list.length - 1] as ModelTag).eventMs);
      }
    }
    // (b) Below the stream's position; once the stream ended, anything a little past the newest tag.
    let ceilingMs = Number.isFinite(streamNextMs) ? streamNextMs - MAX_LATENESS_MS : newestKnown + 60_000;
    if (!Number.isFinite(ceilingMs)) return 'no settled window';
    // (a) At or below the first unsettled tag above the floor.
    for (const action of ACTIONS) {
      const list = history.lists[action];
      for (let i = list.length - 1; i >= 0; i--) {
        const t = list[i] as ModelTag;
        if (t.eventMs < floorMs) break;
        if (!(t.state === 'acked' && t.ackedAt <= settledBy)) ceilingMs = Math.min(ceilingMs, t.eventMs);
      }
    }
    const lowMs = Math.max(floorMs, (Number.isFinite(oldestKnown) ? oldestKnown : ceilingMs) - 5_000);
    if (!(ceilingMs - lowMs >= 1)) return 'no settled window';

    const { fromMs, toMs } = chooseRange(rng, history, floorMs, lowMs, ceilingMs);
    if (!(fromMs < toMs)) return 'no settled window';

    // Small limits matter: filtering by range before the limit is where implementations go wrong.
    const roll = rng.float();
    const limit =
      roll < 0.2 ? undefined : roll < 0.45 ? capacity : roll < 0.8 ? rng.between(1, 10) : rng.between(1, capacity);
    const views = select(history, 'VIEW', fromMs, toMs, limit ?? capacity);
    const buys = select(history, 'BUY', fromMs, toMs, limit ?? capacity);
    const oldest: Partial<Record<Action, number>> = {};
    if (views.length > 0) oldest.VIEW = (views[views.length - 1] as ModelTag).eventMs;
    if (buys.length > 0) oldest.BUY = (buys[buys.length - 1] as ModelTag).eventMs;

    const range = `${formatProfileBound(fromMs)}_${formatProfileBound(toMs)}`;
    const query = limit === undefined ? `time_range=${range}` : `time_range=${range}&limit=${limit}`;
    return {
      cookie,
      fromMs,
      toMs,
      limit,
      path: `/user_profiles/${encodeURIComponent(cookie)}?${query}`,
      expectedJson: `{"cookie":${JSON.stringify(cookie)},"views":[${views.map((t) => t.json).join(',')}],"buys":[${buys.map((t) => t.json).join(',')}]}`,
      oldest,
    };
  }

  /**
   * (c) on arrival: true when no expected tag can have been trimmed, counting every tag sent up to now.
   * False means the comparison proves nothing either way.
   */
  stillDetermined(plan: ProfilePlan): boolean {
    const history = this.cookies.get(plan.cookie);
    if (history === undefined) return true;
    for (const action of ACTIONS) {
      const oldest = plan.oldest[action];
      if (oldest === undefined) continue;
      const list = history.lists[action];
      let newer = 0;
      for (let i = list.length - 1; i >= 0 && (list[i] as ModelTag).eventMs > oldest; i--) newer++;
      if (newer >= this.options.capacity) return false;
    }
    return true;
  }
}

/** Random positive duration, log-uniform up to `maxMs`: mostly short, sometimes long. */
function logSpan(rng: Rng, maxMs: number): number {
  return Math.max(1, Math.round(Math.exp(rng.float() * Math.log(Math.max(1, maxMs)))));
}

/**
 * A range within [floorMs, ceilingMs]: mostly spanning two of the cookie's own tags (so answers are
 * rarely empty), with bounds sometimes exactly on a tag's time to test that `from` is inclusive and `to`
 * exclusive; sometimes ending at the freshest settled time; sometimes anywhere.
 */
function chooseRange(
  rng: Rng,
  history: CookieHistory,
  floorMs: number,
  lowMs: number,
  ceilingMs: number,
): { fromMs: number; toMs: number } {
  const times: number[] = [];
  for (const action of ACTIONS) {
    const list = history.lists[action];
    for (let i = list.length - 1; i >= 0 && (list[i] as ModelTag).eventMs >= floorMs; i--) {
      const t = (list[i] as ModelTag).eventMs;
      if (t < ceilingMs) times.push(t);
    }
  }
  if (times.length === 0 || rng.chance(0.15)) {
    const toMs = rng.chance(0.4) ? ceilingMs : rng.between(lowMs + 1, ceilingMs);
    return { fromMs: Math.max(toMs - logSpan(rng, ceilingMs - lowMs + 10_000), floorMs), toMs };
  }
  const a = rng.pick(times);
  const b = rng.pick(times);
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  let fromMs = rng.chance(0.3) ? lo : lo - logSpan(rng, 60_000);
  let toMs = rng.chance(0.25) ? ceilingMs : rng.chance(0.3) && hi > lo ? hi : hi + logSpan(rng, 60_000);
  fromMs = Math.max(fromMs, floorMs);
  toMs = Math.min(toMs, ceilingMs);
  return { fromMs, toMs };
}

/** Acknowledged tags of one action with from <= time < to, newest first, at most `limit`: range first, then limit. */
function select(
  history: CookieHistory | undefined,
  action: Action,
  fromMs: number,
  toMs: number,
  limit: number,
): ModelTag[] {
  const out: ModelTag[] = [];
  const list = history?.lists[action] ?? [];
  for (let i = list.length - 1; i >= 0 && out.length < limit; i--) {
    const t = list[i] as ModelTag;
    if (t.eventMs < fromMs) break;
    if (t.eventMs < toMs && t.state === 'acked') out.push(t);
  }
  return out;
}
