/**
 * What one POST /user_tags costs the gateway, alone: the local stack (Kafka, PostgreSQL, gateway,
 * pipeline) is started as for bench/ingest, then the loadgen's HTTP client sends the loadgen's tags (seeded, cycled)
 * at a fixed rate with no queries, and the gateway's and the broker's CPU over the run are divided by
 * the requests answered. Compare against the floor this prints first: a bare Fastify route (its own
 * process) that parses the same bodies and answers 204 (no validation, no Kafka), driven the same way.
 *
 *   npx tsx bench/ingest/gateway-cpu.bench.ts [--rate 5000] [--seconds 20] [--connections 256]
 *       [--gateway-env KEY=VALUE ...] [--no-floor]
 *
 * Bounded: a hard deadline stops everything.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultStream } from '../loadgen/loadgen';
import { HttpClient } from '../loadgen/http-client';
import { TagStream } from '../loadgen/tag-stream';
import { LocalSystem, envOf } from '../loadgen/system/local-system';
import { cpuByRole, cpuDelta, processTree } from '../loadgen/system/process-cpu';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '256' },
    'gateway-env': { type: 'string', multiple: true },
    'no-floor': { type: 'boolean', default: false },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const connections = Number(args.connections);

function bodies(n: number): string[] {
  const stream = new TagStream(defaultStream(7));
  return Array.from({ length: n }, () => stream.next().json);
}

/** Sends `tags` (cycled) at `rate` per second for `durationS`, at most `connections` in flight. */
async function drive(url: string, tags: string[], durationS: number): Promise<{ ok: number; other: number }> {
  const client = new HttpClient(url, connections);
  let ok = 0;
  let other = 0;
  const inFlight = new Set<Promise<void>>();
  const start = performance.now();
  const total = Math.round(rate * durationS);
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1_000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const p = client.post('/user_tags', tags[i % tags.length], 5_000).then((res) => {
      if (res.kind === 'response' && res.status === 204) ok++;
      else other++;
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  client.close();
  return { ok, other };
}

/**
 * The floor: a bare Fastify route in its own process that parses the body and answers 204 (no
 * validation, no Kafka), driven the same way; its CPU from /proc.
 */
const FLOOR_SERVER = `
  const app = require('fastify')({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_r, body, done) => {
    try { done(null, JSON.parse(body.toString('utf8'))); } catch (e) { done(e); }
  });
  app.post('/user_tags', async (_req, reply) => { reply.code(204); });
  app.listen({ port: 0, host: '127.0.0.1' }).then((url) => console.log(url));
`;

async function floor(tags: string[]): Promise<void> {
  const child = spawn(process.execPath, ['-e', FLOOR_SERVER], { cwd: resolve(__dirname, '..', '..') });
  try {
    const url = await new Promise<string>((res, rej) => {
      child.stdout.once('data', (d: Buffer) => res(d.toString().trim()));
      child.once('exit', (code) => rej(new Error(`floor server exited with ${code}`)));
    });
    const cpuOf = (): number => processTree(child.pid).find((p) => p.pid === child.pid)?.cpuS ?? 0;
    await drive(url, tags, 5);
    const before = cpuOf();
    const r = await drive(url, tags, seconds);
    const used = cpuOf() - before;
    console.log(
      `floor (bare Fastify, parse and 204) at ${rate}/s for ${seconds} s: ${r.ok} answered; CPU µs per request ${((used * 1e6) / Math.max(1, r.ok)).toFixed(1)}`,
    );
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  setTimeout(
    () => {
      console.error('gateway-cpu bench: deadline reached');
      process.exit(3);
    },
    (seconds * 2 + 240) * 1_000,
  ).unref();
  const tags = bodies(20_000);
  if (!args['no-floor']) await floor(tags);
  const gatewayEnv = envOf(args['gateway-env']);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const system = await LocalSystem.start({
    debugCompare: false,
    gatewayEnv,
    logDir: join(resolve(__dirname, '..', '..', '.cache', 'bench', 'gateway-cpu', stamp), 'logs'),
  });
  try {
    await drive(system.gateway.url, tags, 5); // warm-up: JIT, Kafka metadata
    const roles = { gateway: system.gateway.pid, pipeline: system.pipeline.pid };
    const before = cpuByRole(roles);
    const r = await drive(system.gateway.url, tags, seconds);
    const cpu = cpuDelta(before, cpuByRole(roles));
    const per = (k: string): string => (((cpu[k] ?? 0) * 1e6) / Math.max(1, r.ok)).toFixed(1);
    console.log(
      `gateway at ${rate}/s for ${seconds} s: ${r.ok} answered 204, ${r.other} not; CPU µs per request: ` +
        `gateway ${per('gateway')}, kafka ${per('kafka')}, pipeline ${per('pipeline')}, postgres ${per('postgres')}`,
    );
  } finally {
    await system.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
