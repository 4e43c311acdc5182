/**
 * The embedded mode (`npm start`) as a child process on a fresh DATA_DIR: the curl examples of the
 * running docs return what the docs say; the docs, metrics and health of the four apps are served; data
 * survives a restart; and after a SIGKILL in the middle of a stream of tags, every tag answered 204 is
 * there exactly once, in the profiles and in the aggregates.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sleep } from '../../scripts/servers/process-utils';
import { AppProcess } from '../support/app.process';
import { inParallel } from '../user-tags/tag-model';
import { uniqueName } from '../support/test-env';

const ROOT = resolve(__dirname, '..', '..');
/** Where the curl examples are; the README takes them over once the running docs are merged into it. */
const DOCS = ['README.md', 'docs/RUNNING.md'].map((f) => join(ROOT, f));
const MARKER = 'test/embedded/embedded.int-spec.ts';
const DOCUMENTED_URL = 'http://127.0.0.1:8080';

interface Example {
  readonly curl: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly status?: number;
  readonly json?: unknown;
}

/** Splits a shell line into words, honouring single quotes (all the examples use). */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2]);
  return out;
}

/**
 * The `curl` lines of the documented examples, each with the answer written under it (`# HTTP/1.1 204`,
 * `# {...}`), from the first of the docs that says this test checks them.
 */
function documentedExamples(): Example[] {
  const markdown = DOCS.map((f) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  }).find((text) => text.includes(MARKER));
  if (markdown === undefined) throw new Error(`no curl examples marked for ${MARKER} in ${DOCS.join(' or ')}`);
  // The first shell block with a curl line answered underneath (the marker may come before or after it).
  const block =
    [...markdown.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => /^curl .*\n# /m.test(b)) ?? '';
  const examples: Example[] = [];
  let current: { -readonly [K in keyof Example]: Example[K] } | undefined;
  for (const line of block.split('\n')) {
    if (line.startsWith('curl ')) {
      const args = words(line).slice(1);
      current = { curl: line, method: 'GET', path: '', headers: {} };
      for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (arg === '-X') current.method = args[++i];
        else if (arg === '-H') {
          const [name, ...value] = args[++i].split(':');
          current.headers[name.trim()] = value.join(':').trim();
        } else if (arg === '-d') current.body = args[++i];
        else if (arg.startsWith('http')) current.path = arg.slice(DOCUMENTED_URL.length);
        else if (!['-s', '-i'].includes(arg)) throw new Error(`unexpected curl argument ${arg} in: ${line}`);
      }
      examples.push(current);
    } else if (line.startsWith('# HTTP/1.1 ') && current) {
      current.status = Number(line.split(' ')[2]);
    } else if (line.startsWith('# {') && current) {
      current.json = JSON.parse(line.slice(2));
    }
  }
  return examples;
}

/** Runs an example; an expected JSON answer may take a moment (the pipeline consumes asynchronously). */
async function run(app: AppProcess, example: Example): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${app.url}${example.path}`, {
      method: example.method,
      headers: example.headers,
      body: example.body,
    });
    const text = await res.text();
    const got = { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
    const want = { status: example.status ?? 200, json: example.json };
    if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > deadline) {
      expect({ curl: example.curl, ...got }).toEqual({ curl: example.curl, ...want });
      return;
    }
    await sleep(200);
  }
}

const crashTag = (i: number) => ({
  time: new Date(Date.parse('2022-03-23T10:00:00.000Z') + i * 1_000).toISOString(),
  cookie: `crash-${i}`,
  country: 'PL',
  device: 'MOBILE',
  action: 'VIEW',
  origin: 'crash',
  product_info: { product_id: i, brand_id: 'b', category_id: 'c', price: i + 1 },
});

describe('embedded mode (npm start) as a child process', () => {
  let dataDir: string;
  let app: AppProcess;
  const start = async () => {
    app = await AppProcess.start('embedded', uniqueName('embedded'), { DATA_DIR: dataDir });
    await app.ready(150_000);
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'embedded-'));
    await start();
  });

  afterAll(async () => {
    await app?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers the curl examples of the running docs as they say', async () => {
    const examples = documentedExamples();
    expect(examples.length).toBeGreaterThanOrEqual(3);
    for (const example of examples) await run(app, example);
  });

  it('prints where it listens, and serves the docs, the metrics and the health of all four apps', async () => {
    for (const line of [
      `API      ${app.url}`,
      `Market   ${app.url}/market`,
      `Docs     ${app.url}/docs`,
      `Metrics  ${app.url}/metrics`,
    ]) {
      expect(app.log(100)).toContain(line);
    }
    const ui = await fetch(`${app.url}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
    const bundle = await fetch(`${app.url}/docs/swagger-ui-bundle.js`);
    expect(bundle.status).toBe(200);
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
    const doc = (await (await fetch(`${app.url}/docs-json`)).json()) as {
      paths: object;
      components: { schemas: object };
    };
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/aggregates',
      '/market/instruments',
      '/market/instruments/{instrument}/windows',
      '/market/latest',
      '/user_profiles/{cookie}',
      '/user_tags',
    ]);
    expect(doc.components.schemas).toHaveProperty('UserTag');
    // The market read side: its page, the chart library it loads, and its API on the embedded database.
    const page = await fetch(`${app.url}/market`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(await page.text()).toContain('<script src="/market/chart.js"></script>');
    const chart = await fetch(`${app.url}/market/chart.js`);
    expect(chart.status).toBe(200);
    expect(await chart.text()).toContain('LightweightCharts');
    const instruments = await fetch(`${app.url}/market/instruments`);
    expect([
      instruments.status,
      Array.isArray(((await instruments.json()) as { instruments: unknown }).instruments),
    ]).toEqual([200, true]);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    for (const name of [
      'http_request_duration_seconds',
      'pipeline_aggregate_flush_duration_seconds',
      'deribit_trades_received_total',
      'agg_producer_trades_consumed_total',
      'kafka_consumer_lag',
    ]) {
      expect(metrics).toContain(name);
    }
    const ready = (await (await fetch(`${app.url}/health/ready`)).json()) as { status: string; details: object };
    expect(ready.status).toBe('ok');
    expect(Object.keys(ready.details)).toEqual(
      expect.arrayContaining([
        'postgres',
        'messaging:embedded',
        'user-tags-consumer',
        'aggregates-flush',
        'agg-producer',
      ]),
    );
    expect((await fetch(`${app.url}/health/live`)).status).toBe(200);
  });

  it('keeps the data across a restart, and counts tags sent after it', async () => {
    await app.stop(30_000);
    expect(app.log(5)).toContain('stopped');
    await start();
    const [, profile, aggregates] = documentedExamples();
    await run(app, profile);
    const documented = (profile.json as { buys: { product_info: object }[] }).buys[0];
    const later = {
      ...documented,
      time: '2022-03-22T12:16:30.000Z',
      product_info: { ...documented.product_info, price: 800 },
    };
    const res = await fetch(`${app.url}/user_tags`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(later),
    });
    expect(res.status).toBe(204);
    const want = aggregates.json as { rows: string[][] };
    await run(app, {
      ...aggregates,
      json: { ...want, rows: [want.rows[0], [...want.rows[1].slice(0, 3), '1', '800']] },
    });
  });

  it('after kill -9 mid-stream, has every tag answered 204 exactly once, in profiles and aggregates', async () => {
    const total = 300;
    const acked = new Set<number>();
    let next = 0;
    let killed = false;
    const sender = async () => {
      while (next < total && !killed) {
        const i = next++;
        const ok = await fetch(`${app.url}/user_tags`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(crashTag(i)),
        }).then(
          (r) => r.status === 204,
          () => false,
        );
        if (ok) acked.add(i);
      }
    };
    const senders = Array.from({ length: 16 }, sender);
    const deadline = Date.now() + 60_000;
    while (acked.size < 120) {
      if (Date.now() > deadline || !app.running) throw new Error(`only ${acked.size} tags acknowledged:\n${app.log()}`);
      await sleep(5);
    }
    killed = true;
    await app.kill();
    await Promise.all(senders);
    const sent = next;
    await start();

    const profileHas = async (i: number): Promise<number> => {
      const res = await fetch(
        `${app.url}/user_profiles/crash-${i}?time_range=2022-03-23T09:00:00.000_2022-03-23T11:00:00.000`,
        { method: 'POST' },
      );
      if (res.status !== 200) throw new Error(`profile of crash-${i}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { views: unknown[] }).views.length;
    };
    const counted = async (): Promise<{ count: number; sum: number }> => {
      const res = await fetch(
        `${app.url}/aggregates?time_range=2022-03-23T10:00:00_2022-03-23T10:10:00&action=VIEW&origin=crash&aggregates=COUNT&aggregates=SUM_PRICE`,
        { method: 'POST' },
      );
      const rows = ((await res.json()) as { rows: string[][] }).rows;
      return rows.reduce((a, r) => ({ count: a.count + Number(r[3]), sum: a.sum + Number(r[4]) }), {
        count: 0,
        sum: 0,
      });
    };
    const converged = Date.now() + 60_000;
    for (;;) {
      // Tags sent but not answered (in flight at the kill) may or may not be there; the aggregates must
      // agree exactly with whichever are.
      // A few at a time: PGlite is one session, and hundreds of reads at once would queue past the pool's timeout.
      const present: number[] = [];
      await inParallel(
        Array.from({ length: sent }, (_, i) => i),
        8,
        async (i) => void (present[i] = await profileHas(i)),
      );
      const inProfiles = {
        count: present.filter((n) => n > 0).length,
        sum: present.reduce((s, n, i) => s + (n > 0 ? crashTag(i).product_info.price : 0), 0),
      };
      const got = {
        ackedMissing: [...acked].filter((i) => present[i] === 0),
        duplicated: present.flatMap((n, i) => (n > 1 ? [i] : [])),
        aggregates: await counted(),
      };
      const want = { ackedMissing: [], duplicated: [], aggregates: inProfiles };
      if (JSON.stringify(got) === JSON.stringify(want) || Date.now() > converged) {
        expect(got).toEqual(want);
        break;
      }
      await sleep(500);
    }
  });
});
