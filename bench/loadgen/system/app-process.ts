/**
 * An app of this repository (`apps/<name>/src/main.ts`) as a child process, run from TypeScript with
 * @swc-node/register (which keeps decorator metadata, unlike tsx), the way the local stack runs it.
 * Spawned by path: the loadgen's code imports nothing of the product's.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  freePort,
  isRunning,
  killWithParent,
  sleep,
  tailFile,
  waitForExit,
} from '../../../scripts/servers/process-utils';

const ROOT = resolve(__dirname, '..', '..', '..');

export class AppProcess {
  private constructor(
    readonly app: string,
    readonly url: string,
    readonly port: number,
    readonly logFile: string,
    private readonly child: ChildProcess,
    private readonly disarm: () => void,
  ) {}

  /** Spawns `apps/<app>` on a free port with `env` over a minimal environment; logs go to `logDir`. */
  static async start(
    app: string,
    env: Record<string, string>,
    logDir: string,
    nodeArgs: string[] = [],
  ): Promise<AppProcess> {
    mkdirSync(logDir, { recursive: true });
    const port = env.PORT !== undefined ? Number(env.PORT) : await freePort();
    const logFile = join(logDir, `${app}-${port}.log`);
    const out = openSync(logFile, 'a');
    const child = spawn(
      process.execPath,
      [
        ...nodeArgs,
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
        '-r',
        '@swc-node/register',
        join('apps', app, 'src', 'main.ts'),
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          KAFKAJS_NO_PARTITIONER_WARNING: '1',
          NO_COLOR: '1',
          HOST: '127.0.0.1',
          PORT: String(port),
          ...env,
        },
        stdio: ['ignore', out, out],
      },
    );
    closeSync(out);
    const disarm = killWithParent(child, { signal: 'SIGTERM', graceSeconds: 5 });
    return new AppProcess(app, `http://127.0.0.1:${port}`, port, logFile, child, disarm);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  /** Waits until /health/ready answers 200; fails early, with the log's tail, if the app exits. */
  async ready(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.app} exited before it was ready:\n${tailFile(this.logFile)}`);
      const ok = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(2_000) }).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(200);
    }
    throw new Error(`${this.app} not ready after ${timeoutMs} ms:\n${tailFile(this.logFile)}`);
  }

  /** Prometheus text of /metrics. */
  async metricsText(): Promise<string> {
    return (await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  }

  /** Sum of the samples of a metric whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    let sum = 0;
    for (const line of (await this.metricsText()).split('\n')) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (m === null || m[1] !== name) continue;
      if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
    }
    return sum;
  }

  /** SIGTERM, then SIGKILL if it does not exit in time. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      if (!(await waitForExit(this.child, timeoutMs))) {
        this.child.kill('SIGKILL');
        await waitForExit(this.child, 5_000);
      }
    }
    this.disarm();
  }

  log(lines = 40): string {
    return tailFile(this.logFile, lines);
  }
}
