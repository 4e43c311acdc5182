/**
 * A small in-memory implementation of the HTTP contract, for the loadgen's own tests: a second, naive
 * reading of the contract (Date.parse, sort everything, scan everything), with switches that break it in
 * the ways real implementations broke, so the tests can show the loadgen catches each one.
 */
import { IncomingMessage, Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';

export interface FakeApiFaults {
  /** Take the newest `limit` before filtering by range (the known bad implementation). */
  limitBeforeFilter?: boolean;
  /** Answer 204 but keep every n-th tag out of the data. */
  loseEveryNth?: number;
  /** Filter columns in the order of the query string instead of the contract's order. */
  columnsInQueryOrder?: boolean;
  /** Answer every n-th tag with 503 (after storing it, as a timed-out produce may). */
  fail503EveryNth?: number;
}

export interface FakeApiOptions {
  /** A tag becomes visible to queries this long after its 204. */
  visibilityDelayMs?: number;
  /** Tags become visible only once no tag arrived for this long: a system behind the rate, catching up at the end. */
  visibleWhenIdleMs?: number;
  /** Newest tags kept per cookie and action. */
  capacity?: number;
  faults?: FakeApiFaults;
}

interface StoredTag {
  body: Record<string, unknown> & { time: string; cookie: string; action: string; origin: string };
  ms: number;
  visibleAt: number;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class FakeApi {
  /** Profiles: per cookie and action. */
  private readonly byCookie = new Map<string, StoredTag[]>();
  /** Aggregates: every tag by its minute (profile trimming does not touch these). */
  private readonly byMinute = new Map<number, StoredTag[]>();
  private received = 0;
  private lastTagAt = 0;
  readonly comparisons = { match: 0, mismatch: 0 };

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: FakeApiOptions,
  ) {}

  static async start(options: FakeApiOptions = {}): Promise<FakeApi> {
    // The handler needs the instance, which needs the server's port: bound through a holder.
    const ref: { api?: FakeApi } = {};
    const server = createServer((req, res) => {
      void ref.api?.handle(req, res).catch((err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    ref.api = new FakeApi(server, `http://127.0.0.1:${port}`, options);
    return ref.api;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    const json = (status: number, value: unknown): void => {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (req.method === 'GET' && url.pathname === '/metrics') {
      const text =
        `debug_comparisons_total{endpoint="any",result="match"} ${this.comparisons.match}\n` +
        `debug_comparisons_total{endpoint="any",result="mismatch"} ${this.comparisons.mismatch}\n`;
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    if (req.method !== 'POST') return json(404, { message: 'not found' });
    if (url.pathname === '/user_tags') return this.ingest(body, res, json);
    const answer =
      url.pathname === '/aggregates'
        ? this.aggregates(url)
        : url.pathname.startsWith('/user_profiles/')
          ? this.profile(decodeURIComponent(url.pathname.slice('/user_profiles/'.length)), url)
          : undefined;
    if (answer === undefined) return json(400, { message: 'bad request' });
    // Debug mode, roughly: compare the canonical JSON of the expected body with the answer.
    const canonical = (v: unknown): string =>
      JSON.stringify(v, (_k, x: unknown) =>
        x !== null && typeof x === 'object' && !Array.isArray(x)
          ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
          : x,
      );
    if (body !== '') this.comparisons[canonical(JSON.parse(body)) === canonical(answer) ? 'match' : 'mismatch']++;
    json(200, answer);
  }

  private visible(t: StoredTag, now: number): boolean {
    const idle = this.options.visibleWhenIdleMs;
    return t.visibleAt <= now && (idle === undefined || now - this.lastTagAt >= idle);
  }

  private ingest(body: string, res: ServerResponse, json: (s: number, v: unknown) => void): void {
    const tag = JSON.parse(body) as StoredTag['body'];
    const ms = Date.parse(tag.time);
    if (!Number.isFinite(ms)) return json(400, { message: 'bad time' });
    const n = ++this.received;
    this.lastTagAt = Date.now();
    const faults = this.options.faults ?? {};
    if (!(faults.loseEveryNth !== undefined && n % faults.loseEveryNth === 0)) {
      const stored: StoredTag = { body: tag, ms, visibleAt: Date.now() + (this.options.visibilityDelayMs ?? 0) };
      const minute = Math.floor(ms / 60_000) * 60_000;
      const inMinute = this.byMinute.get(minute) ?? [];
      inMinute.push(stored);
      this.byMinute.set(minute, inMinute);
      const key = `${tag.cookie}\u0000${tag.action}`;
      const list = this.byCookie.get(key) ?? [];
      list.push(stored);
      this.byCookie.set(key, this.trim(list));
    }
    if (faults.fail503EveryNth !== undefined && n % faults.fail503EveryNth === 0)
      return json(503, { message: 'timeout' });
    res.writeHead(204);
    res.end();
  }

  /** Keeps exactly the newest `capacity` of the cookie's tags of this action: the strictest the contract allows. */
  private trim(list: StoredTag[]): StoredTag[] {
    const capacity = this.options.capacity ?? 200;
    if (list.length <= capacity) return list;
    return list.sort((a, b) => b.ms - a.ms).slice(0, capacity);
  }

  private profile(cookie: string, url: URL): unknown {
    const [from, to] = (url.searchParams.get('time_range') ?? '').split('_');
    const fromMs = Date.parse(`${from}Z`);
    const toMs = Date.parse(`${to}Z`);
    const limit = Number(url.searchParams.get('limit') ?? 200);
    const now = Date.now();
    const pick = (action: string): unknown[] => {
      const ofAction = (this.byCookie.get(`${cookie}\u0000${action}`) ?? [])
        .filter((t) => this.visible(t, now))
        .sort((a, b) => b.ms - a.ms);
      const inRange = (t: StoredTag): boolean => t.ms >= fromMs && t.ms < toMs;
      const chosen = this.options.faults?.limitBeforeFilter
        ? ofAction.slice(0, limit).filter(inRange)
        : ofAction.filter(inRange).slice(0, limit);
      return chosen.map((t) => t.body);
    };
    return { cookie, views: pick('VIEW'), buys: pick('BUY') };
  }

  private aggregates(url: URL): unknown {
    const p = url.searchParams;
    const [from, to] = (p.get('time_range') ?? '').split('_');
    const fromMs = Date.parse(`${from}Z`);
    const toMs = Date.parse(`${to}Z`);
    const action = p.get('action');
    const aggregates = p.getAll('aggregates');
    const contractOrder = ['origin', 'brand_id', 'category_id'];
    const queryOrder = [...p.keys()].filter((k) => contractOrder.includes(k));
    const filters = (this.options.faults?.columnsInQueryOrder ? queryOrder : contractOrder).filter((f) => p.has(f));
    const now = Date.now();
    const rows: string[][] = [];
    for (let m = fromMs; m < toMs; m += 60_000) {
      let count = 0;
      let sum = 0;
      for (const t of this.byMinute.get(m) ?? []) {
        const info = t.body.product_info as { brand_id: string; category_id: string; price: number };
        const values: Record<string, string> = {
          origin: t.body.origin,
          brand_id: info.brand_id,
          category_id: info.category_id,
        };
        if (!this.visible(t, now) || t.ms < m || t.ms >= m + 60_000 || t.body.action !== action) continue;
        if (filters.some((f) => values[f] !== p.get(f))) continue;
        count++;
        sum += info.price;
      }
      rows.push([
        new Date(m).toISOString().slice(0, 19),
        action as string,
        ...filters.map((f) => p.get(f) as string),
        ...aggregates.map((a) => String(a === 'COUNT' ? count : sum)),
      ]);
    }
    return {
      columns: ['1m_bucket', 'action', ...filters, ...aggregates.map((a) => (a === 'COUNT' ? 'count' : 'sum_price'))],
      rows,
    };
  }
}
