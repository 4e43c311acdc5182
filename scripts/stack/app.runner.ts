import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { isRunning, killWithParent, sleep, tailFile, terminate } from '../servers/process-utils';
import type { LogSink } from './log.sink';

export type StackApp = 'gateway' | 'pipeline' | 'raw-producer' | 'agg-producer';

export interface AppSpec {
  readonly name: StackApp;
  /** Entry point, relative to the repository root. */
  readonly main: string;
}

export const STACK_APPS: readonly AppSpec[] = (['gateway', 'pipeline', 'raw-producer', 'agg-producer'] as const).map(
  (name) => ({ name, main: `apps/${name}/src/main.ts` }),
);

/** Longer than the apps' own SHUTDOWN_TIMEOUT_MS (10 s by default), which they enforce themselves. */
const STOP_TIMEOUT_MS = 30_000;

export interface AppRunnerOptions {
  readonly root: string;
  readonly port: number;
  /** On top of this process's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly sink: LogSink;
  readonly onUnexpectedExit: (code: string) => void;
}

/** One app of the stack as a child process running its TypeScript with @swc-node/register. */
export class AppRunner {
  private stopping = false;

  private constructor(
    readonly app: AppSpec,
    private readonly child: ChildProcess,
    private readonly port: number,
    private readonly sink: LogSink,
    private readonly disarm: () => void,
  ) {}

  static start(app: AppSpec, opts: AppRunnerOptions): AppRunner {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.STACK_SUPERVISED;
    const child = spawn(process.execPath, ['-r', '@swc-node/register', app.main], {
      cwd: opts.root,
      env: {
        ...env,
        ...opts.env,
        HOST: '127.0.0.1',
        PORT: String(opts.port),
        NO_COLOR: '1',
        KAFKAJS_NO_PARTITIONER_WARNING: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const disarm = killWithParent(child, { signal: 'SIGTERM', graceSeconds: 15 });
    const runner = new AppRunner(app, child, opts.port, opts.sink, disarm);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => opts.sink.line(app.name, line));
    }
    child.on('exit', (code, signal) => {
      if (!runner.stopping) opts.onUnexpectedExit(signal ?? `code ${code}`);
    });
    return runner;
  }

  /** Resolves once /health/live answers: the app is listening, so its start-up (topics created...) is done. */
  listening(timeoutMs: number): Promise<void> {
    return this.poll('live', timeoutMs);
  }

  /** Resolves once /health/ready answers 200; throws if the app exits or takes longer than `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    return this.poll('ready', timeoutMs);
  }

  private async poll(probe: 'live' | 'ready', timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const url = `http://127.0.0.1:${this.port}/health/${probe}`;
    while (Date.now() < deadline) {
      if (!isRunning(this.child)) {
        throw new Error(
          `${this.app.name} exited before it was ready:\n${tailFile(this.sink.fileOf(this.app.name), 20)}`,
        );
      }
      const ok = await fetch(url).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      await sleep(250);
    }
    throw new Error(`${this.app.name} did not answer ${url} within ${timeoutMs} ms`);
  }

  /** SIGTERM (the app drains and commits), SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    this.stopping = true;
    await terminate(this.child, 'SIGTERM', STOP_TIMEOUT_MS);
    this.disarm();
  }
}
