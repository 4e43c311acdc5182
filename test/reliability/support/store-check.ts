/**
 * The stores against the topic, for the outage suites: every tag of the topic counted once in the
 * unfiltered cube (per action and per minute bucket) and held once in its cookie's profile list. Meant
 * for shapes with fewer than 200 tags per cookie and action, so that every list keeps all its tags.
 */
import type { UserTag } from '@lib/domain';
import { Figures } from './figures';
import { sql } from './user-tags-stack';

export interface StoreCheck {
  /** Tags counted in the unfiltered cube, per action. */
  countedPerAction: Record<string, number>;
  /** Tags in the topic, per action. */
  sentPerAction: Record<string, number>;
  countedTotal: number;
  /** (action, minute bucket) pairs sent, and those counted wrong. */
  buckets: number;
  bucketDiffs: string[];
  /** Profile rows stored. */
  profileRows: number;
  /** (cookie, action) lists sent, and those stored wrong. */
  lists: number;
  listDiffs: string[];
}

export async function checkStores(databaseUrl: string, inTopic: readonly UserTag[]): Promise<StoreCheck> {
  const sentPerAction: Record<string, number> = {};
  const perBucket = new Map<string, number>();
  const perList = new Map<string, Set<number>>();
  for (const t of inTopic) {
    const ms = Date.parse(t.time);
    sentPerAction[t.action] = (sentPerAction[t.action] ?? 0) + 1;
    const bucket = `${t.action} ${ms - (ms % 60_000)}`;
    perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + 1);
    const list = `${t.cookie} ${t.action}`;
    if (!perList.has(list)) perList.set(list, new Set());
    perList.get(list)?.add(ms);
  }
  const [byBucket, rows] = await Promise.all([
    sql<{ action: string; bucket_ms: string; n: string }>(
      databaseUrl,
      "SELECT (ARRAY['VIEW', 'BUY'])[action + 1] AS action, bucket_ms, sum(count) AS n FROM minute_cube WHERE dims = 0 GROUP BY 1, 2",
    ),
    sql<{ cookie: string; action: string; time_ms: string }>(
      databaseUrl,
      'SELECT cookie, action, time_ms FROM profile_entry',
    ),
  ]);
  const countedPerAction: Record<string, number> = {};
  const bucketDiffs: string[] = [];
  const seenBuckets = new Set<string>();
  for (const r of byBucket) {
    const key = `${r.action} ${r.bucket_ms}`;
    seenBuckets.add(key);
    countedPerAction[r.action] = (countedPerAction[r.action] ?? 0) + Number(r.n);
    if (Number(r.n) !== (perBucket.get(key) ?? 0)) {
      bucketDiffs.push(`${key}: ${r.n} counted, ${perBucket.get(key) ?? 0} sent`);
    }
  }
  for (const [key, n] of perBucket) if (!seenBuckets.has(key)) bucketDiffs.push(`${key}: 0 counted, ${n} sent`);
  const stored = new Map<string, number[]>();
  for (const r of rows) {
    const list = `${r.cookie} ${r.action}`;
    if (!stored.has(list)) stored.set(list, []);
    stored.get(list)?.push(Number(r.time_ms));
  }
  const listDiffs: string[] = [];
  for (const [list, times] of perList) {
    const got = stored.get(list) ?? [];
    const unexpected = got.filter((t) => !times.has(t)).length;
    if (got.length !== times.size || unexpected > 0 || new Set(got).size !== got.length) {
      listDiffs.push(`${list}: ${got.length} rows (${unexpected} not sent), ${times.size} tags sent`);
    }
  }
  for (const list of stored.keys()) if (!perList.has(list)) listDiffs.push(`${list}: stored, never sent`);
  return {
    countedPerAction,
    sentPerAction,
    countedTotal: Object.values(countedPerAction).reduce((s, n) => s + n, 0),
    buckets: perBucket.size,
    bucketDiffs,
    profileRows: rows.length,
    lists: perList.size,
    listDiffs,
  };
}

/** The store check's rows of a suite's figures, the same in every suite. */
export function addStoreFigures(figures: Figures, stores: StoreCheck, tagsInTopic: number): void {
  const { VIEW = 0, BUY = 0 } = stores.countedPerAction;
  figures.add(
    'counted in aggregates (unfiltered cube) / tags in the topic',
    `${stores.countedTotal} / ${tagsInTopic} (VIEW ${VIEW}, BUY ${BUY})`,
  );
  figures.add('minute buckets × action checked / wrong', `${stores.buckets} / ${stores.bucketDiffs.length}`);
  figures.add('profile rows / tags in the topic', `${stores.profileRows} / ${tagsInTopic}`);
  figures.add('cookie × action lists checked / wrong', `${stores.lists} / ${stores.listDiffs.length}`);
}
