/**
 * An independent model of the user-tag contract for the end-to-end tests: plain arrays and
 * Date.parse, none of the product's code. It answers what the system must answer.
 */
export interface Tag {
  time: string;
  cookie: string;
  country: string;
  device: 'PC' | 'MOBILE' | 'TV';
  action: 'VIEW' | 'BUY';
  origin: string;
  product_info: { product_id: string | number; brand_id: string; category_id: string; price: number };
}

export const CAPACITY = 200;

const key = (t: Tag): string => JSON.stringify(t);

export class TagModel {
  private readonly byCookie = new Map<string, Map<string, Tag>>();

  add(tag: Tag): void {
    const tags = this.byCookie.get(tag.cookie) ?? new Map<string, Tag>();
    tags.set(key(tag), tag); // the same tag twice is one tag
    this.byCookie.set(tag.cookie, tags);
  }

  cookies(): string[] {
    return [...this.byCookie.keys()];
  }

  /** Tags of one action, newest first, only the CAPACITY newest. */
  kept(cookie: string, action: Tag['action']): Tag[] {
    const all = [...(this.byCookie.get(cookie)?.values() ?? [])].filter((t) => t.action === action);
    return all.sort((a, b) => Date.parse(b.time) - Date.parse(a.time)).slice(0, CAPACITY);
  }

  /** `from`/`to` as in the query string: UTC without zone. */
  profile(cookie: string, from: string, to: string, limit: number): { cookie: string; views: Tag[]; buys: Tag[] } {
    const fromMs = Date.parse(`${from}Z`);
    const toMs = Date.parse(`${to}Z`);
    const pick = (action: Tag['action']) =>
      this.kept(cookie, action)
        .filter((t) => Date.parse(t.time) >= fromMs && Date.parse(t.time) < toMs)
        .slice(0, limit);
    return { cookie, views: pick('VIEW'), buys: pick('BUY') };
  }
}

/**
 * Equal as answers: same tags, newest first. Tags with equal times may come in any order, so each
 * run of equal times is compared as a multiset.
 */
export function sameProfileList(actual: Tag[], expected: Tag[]): boolean {
  if (actual.length !== expected.length) return false;
  let i = 0;
  while (i < expected.length) {
    const t = Date.parse(expected[i]!.time);
    let j = i;
    while (j < expected.length && Date.parse(expected[j]!.time) === t) j++;
    const want = expected.slice(i, j).map(key).sort();
    const got = actual.slice(i, j).map(key).sort();
    if (JSON.stringify(want) !== JSON.stringify(got)) return false;
    i = j;
  }
  return true;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same tags on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
