import { TimeRange } from '../time/time-range';
import { UserTag } from '../user-tags/user-tag';

/** How many of the most recent tags per cookie and action a store keeps, at least. */
export const PROFILE_CAPACITY = 200;

export interface Profile {
  /** VIEW tags, newest first. */
  views: UserTag[];
  /** BUY tags, newest first. */
  buys: UserTag[];
}

/** A profile's lists as JSON array texts. */
export interface ProfileJson {
  readonly views: string;
  readonly buys: string;
}

/**
 * Per-cookie history of user tags.
 *
 * - `append` takes tags of any cookies in any order and resolves once they are durable. It is
 *   idempotent: a tag equal in every field to one already stored is not stored again (so replays
 *   after a crash are harmless), while two different tags with the same time are both kept.
 * - After `append`, at least the PROFILE_CAPACITY newest tags (by event time) of each cookie and
 *   action are kept; older ones may be dropped.
 * - `read` returns the tags with range.fromMs <= event time < range.toMs, newest first, filtered
 *   by the range before the limit is applied, at most `limit` per action. Tags come back exactly
 *   as appended (time text and product_id type included). Ties in event time come back in a fixed
 *   order (the same on every read) that is otherwise unspecified.
 * - Errors reject the promise (a transient one may succeed on retry); nothing is half-applied in a
 *   way a retry of the same append would not repair.
 */
export abstract class ProfileStore {
  abstract append(tags: readonly UserTag[]): Promise<void>;
  abstract read(cookie: string, range: TimeRange, limit: number): Promise<Profile>;

  /**
   * `read`'s answer as JSON texts, each list exactly `JSON.stringify` of read's: the gateway sends
   * them on as they are. Adapters that keep tags as JSON text override it to skip a parse and a
   * serialisation of every tag; this default serialises `read`'s answer.
   */
  async readJson(cookie: string, range: TimeRange, limit: number): Promise<ProfileJson> {
    const profile = await this.read(cookie, range, limit);
    return { views: JSON.stringify(profile.views), buys: JSON.stringify(profile.buys) };
  }

  /**
   * Profile retention: deletes the lists not written since `notWrittenSinceMs` (wall clock, epoch ms)
   * and answers how many. A store whose records expire by themselves (Aerospike's TTL, set at each
   * write) answers 0.
   */
  abstract deleteIdle(notWrittenSinceMs: number): Promise<number>;
}
