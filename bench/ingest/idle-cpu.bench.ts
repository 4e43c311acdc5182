/**
 * What the local stack (Kafka, PostgreSQL, gateway, pipeline) costs doing nothing: started as for
 * bench/ingest, left alone for 10 s, then each process's CPU over `--seconds` of idling. At a load of N tags/s,
 * a process's idle CPU-seconds per second, divided by N, is the part of its per-tag figure no tag causes.
 *
 *   npx tsx bench/ingest/idle-cpu.bench.ts [--seconds 20]
 *
 * Bounded: a hard deadline stops everything.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalSystem } from '../loadgen/system/local-system';
import { cpuByRole, cpuDelta } from '../loadgen/system/process-cpu';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '20' } } });
const seconds = Number(args.seconds);

async function main(): Promise<void> {
  setTimeout(
    () => {
      console.error('idle-cpu bench: deadline reached');
      process.exit(3);
    },
    (seconds + 240) * 1_000,
  ).unref();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const system = await LocalSystem.start({
    debugCompare: false,
    logDir: join(resolve(__dirname, '..', '..', '.cache', 'bench', 'idle-cpu', stamp), 'logs'),
  });
  try {
    await new Promise((r) => setTimeout(r, 10_000));
    const roles = { gateway: system.gateway.pid, pipeline: system.pipeline.pid };
    const before = cpuByRole(roles);
    await new Promise((r) => setTimeout(r, seconds * 1_000));
    const cpu = cpuDelta(before, cpuByRole(roles));
    const share = (k: string): string => `${(((cpu[k] ?? 0) / seconds) * 100).toFixed(1)} %`;
    console.log(
      `idle for ${seconds} s, share of one core: gateway ${share('gateway')}, pipeline ${share('pipeline')}, ` +
        `kafka ${share('kafka')}, postgres ${share('postgres')}`,
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
