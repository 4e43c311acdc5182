/**
 * `npm run stack` as a user runs it, on ports of its own and a fresh STACK_DIR: it starts a real Kafka
 * broker, PostgreSQL and the four apps, a user tag makes the round trip through them, logs land in one
 * place, and SIGTERM stops everything it started (apps first, in order), leaving no port open.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { freePorts, isRunning, killWithParent, sleep, waitForExit } from '../../scripts/servers/process-utils';

const ROOT = resolve(__dirname, '..', '..');
const READY_TIMEOUT_MS = 300_000;
const APPS = ['gateway', 'pipeline', 'raw-producer', 'agg-producer'] as const;

jest.setTimeout(READY_TIMEOUT_MS + 120_000);

const tag = {
  time: '2022-03-22T12:15:00.000Z',
  cookie: 'stack-alice',
  country: 'PL',
  device: 'PC',
  action: 'BUY',
  origin: 'US',
  product_info: { product_id: '2137', brand_id: 'Nike', category_id: 'shoes', price: 1200 },
};

/** True when something accepts TCP connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function eventually<T>(what: string, get: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await sleep(250);
  }
}

describe('npm run stack', () => {
  let dir: string;
  let child: ChildProcess;
  let disarm: () => void = () => undefined;
  const lines: string[] = [];
  let ports: { kafka: number; pg: number; apps: Record<(typeof APPS)[number], number> };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stack-'));
    // PostgreSQL runs as its own user when we are root: it must be able to reach its data directory.
    chmodSync(dir, 0o755);
    const [kafka, pg, gateway, pipeline, rawProducer, aggProducer] = await freePorts(6);
    ports = {
      kafka,
      pg,
      apps: { gateway, pipeline, 'raw-producer': rawProducer, 'agg-producer': aggProducer },
    };
    child = spawn('npm', ['run', '--silent', 'stack'], {
      cwd: ROOT,
      env: {
        ...process.env,
        STACK_DIR: dir,
        KAFKA_PORT: String(kafka),
        PG_PORT: String(pg),
        STACK_GATEWAY_PORT: String(gateway),
        STACK_PIPELINE_PORT: String(pipeline),
        STACK_RAW_PRODUCER_PORT: String(rawProducer),
        STACK_AGG_PRODUCER_PORT: String(aggProducer),
        STACK_READY_TIMEOUT_MS: String(READY_TIMEOUT_MS),
        AGG_FLUSH_INTERVAL_MS: '300',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    disarm = killWithParent(child, { signal: 'SIGTERM', graceSeconds: 60 });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => lines.push(line));
    }
    const deadline = Date.now() + READY_TIMEOUT_MS + 30_000;
    while (!lines.some((l) => l.includes('Local stack ready'))) {
      if (!isRunning(child) || Date.now() > deadline || lines.some((l) => l.includes('did not start'))) {
        throw new Error(`the stack did not come up:\n${lines.slice(-60).join('\n')}`);
      }
      await sleep(250);
    }
  });

  afterAll(async () => {
    if (child !== undefined && isRunning(child)) {
      child.kill('SIGTERM');
      await waitForExit(child, 90_000);
    }
    disarm();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a user tag round trip through the gateway, Kafka, the pipeline and PostgreSQL', async () => {
    const gateway = `http://127.0.0.1:${ports.apps.gateway}`;
    const res = await fetch(`${gateway}/user_tags`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(tag),
    });
    expect(res.status).toBe(204);
    const profile = await eventually(
      'profile',
      async () =>
        (await fetch(
          `${gateway}/user_profiles/${tag.cookie}?time_range=2022-03-22T12:00:00.000_2022-03-22T13:00:00.000`,
          {
            method: 'POST',
          },
        ).then((r) => r.json())) as { buys: unknown[] },
      (p) => p.buys.length > 0,
    );
    expect(profile).toEqual({ cookie: tag.cookie, views: [], buys: [tag] });
    const aggregates = await eventually(
      'aggregates',
      async () =>
        (await fetch(
          `${gateway}/aggregates?time_range=2022-03-22T12:15:00_2022-03-22T12:16:00&action=BUY&origin=US&aggregates=COUNT&aggregates=SUM_PRICE`,
          { method: 'POST' },
        ).then((r) => r.json())) as { rows: string[][] },
      (a) => a.rows[0]?.[3] === '1',
    );
    expect(aggregates.rows).toEqual([['2022-03-22T12:15:00', 'BUY', 'US', '1', '1200']]);
    for (const app of APPS)
      expect([app, (await fetch(`http://127.0.0.1:${ports.apps[app]}/health/ready`)).status]).toEqual([app, 200]);
  });

  it('keeps the logs in one place and prefixes the merged stream by app', () => {
    for (const name of [...APPS, 'kafka', 'postgres', 'stack']) {
      expect([name, existsSync(join(dir, 'logs', `${name}.log`))]).toEqual([name, true]);
    }
    for (const app of APPS) expect(lines.some((l) => l.startsWith(`${app.padEnd(12)}| `))).toBe(true);
  });

  it('stops everything it started on SIGTERM: the gateway first, the servers last', async () => {
    child.kill('SIGTERM');
    expect(await waitForExit(child, 90_000)).toBe(true);
    expect(child.exitCode).toBe(0);
    const gatewayStopped = lines.findIndex((l) => l.startsWith('gateway') && l.endsWith('[gateway] stopped'));
    const pipelineDraining = lines.findIndex((l) => l.startsWith('pipeline') && l.includes('SIGTERM: draining'));
    expect(gatewayStopped).toBeGreaterThanOrEqual(0);
    expect(pipelineDraining).toBeGreaterThan(gatewayStopped);
    const open = [];
    for (const port of [ports.kafka, ports.pg, ...Object.values(ports.apps)])
      if (await listening(port)) open.push(port);
    expect(open).toEqual([]);
  });
});
