/**
 * An app (`apps/<name>/src/main.ts`) as a real child process, run from TypeScript with
 * @swc-node/register (decorator metadata included), for tests that kill it with SIGKILL.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, isRunning, killWithParent, sleep, tailFile, waitForExit } from '../../scripts/servers/process-utils';

const ROOT = resolve(__dirname, '..', '..');
export const APP_LOG_DIR = join(ROOT, '.cache', 'test-apps');

export class AppProcess {
  private constructor(
    readonly name: string,
    readonly url: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
    private readonly disarm: () => void,
  ) {}

  /** Spawns the app with `env` (on top of a minimal environment) on a free port. */
  static async start(app: string, label: string, env: Record<string, string>): Promise<AppProcess> {
    mkdirSync(APP_LOG_DIR, { recursive: true });
    const port = await freePort();
    const logFile = join(APP_LOG_DIR, `${label}.log`);
    const out = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join('apps', app, 'src', 'main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
        NO_COLOR: '1',
        HOST: '127.0.0.1',
        PORT: String(port),
        ...env,
      },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const disarm = killWithParent(child, { signal: 'SIGKILL', graceSeconds: 1 });
    return new AppProcess(label, `http://127.0.0.1:${port}`, logFile, child, disarm);
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  /** Waits until /health/ready answers 200. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited before it was ready:\n${tailFile(this.logFile)}`);
      const ok = await fetch(`${this.url}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(100);
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${tailFile(this.logFile)}`);
  }

  /** Sum of the samples of a Prometheus metric with these labels (all samples when none given). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
      if (match === null || match[1] !== name) continue;
      const sampleLabels = match[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => sampleLabels.includes(`${k}="${v}"`))) sum += Number(match[3]);
    }
    return sum;
  }

  /** Polls a metric until `done(value)`; returns the last value. */
  async waitForMetric(name: string, done: (value: number) => boolean, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.metric(name).catch(() => Number.NaN);
      if (done(value)) return value;
      if (Date.now() > deadline || !this.running) {
        throw new Error(`${this.name}: ${name} = ${value} after ${timeoutMs} ms:\n${tailFile(this.logFile)}`);
      }
      await sleep(20);
    }
  }

  /** SIGKILL: no shutdown hook runs, nothing pending is committed. */
  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await waitForExit(this.child, 10_000);
    this.disarm();
  }

  /** SIGTERM, then SIGKILL if it does not exit in time; answers its exit code (null: killed or not running). */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.running) {
      this.child.kill('SIGTERM');
      if (!(await waitForExit(this.child, timeoutMs))) this.child.kill('SIGKILL');
    }
    this.disarm();
    return this.child.exitCode;
  }

  log(lines = 40): string {
    return tailFile(this.logFile, lines);
  }
}
