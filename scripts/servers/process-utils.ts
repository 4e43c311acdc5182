import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';

/**
 * `count` distinct free TCP ports on 127.0.0.1, chosen by the kernel. All are held open until every one is
 * known, so they differ; another process could still take one before our server binds it (rare enough).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(
        await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            if (typeof address === 'object' && address !== null) resolve(address.port);
            else reject(new Error('Could not get a free port'));
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/** The last `lines` lines of a text file, or a note if it cannot be read. */
export function tailFile(path: string, lines = 40): string {
  if (!existsSync(path)) return `(no log file at ${path})`;
  try {
    const all = readFileSync(path, 'utf8').trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  } catch (err) {
    return `(could not read ${path}: ${(err as Error).message})`;
  }
}

/**
 * The first `max` lines of a log that report an error (ERROR/FATAL lines, exceptions and their causes):
 * a failed JVM's log ends with shutdown chatter, the reason is usually much earlier.
 */
export function firstErrorLines(path: string, max = 12): string {
  if (!existsSync(path)) return '';
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => /\b(ERROR|FATAL)\b|Exception|^Caused by:/.test(line))
      .slice(0, max)
      .join('\n');
  } catch {
    return '';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** False once the child exited, or if it never started (spawn failed: no pid). */
export function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Resolves true when the child has exited; false if it is still running after `timeoutMs`. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (!isRunning(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    child.once('exit', onExit);
  });
}

/** Sends `signal`, waits up to `timeoutMs`, then SIGKILLs. Resolves once the process is gone. */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (!isRunning(child)) return;
  child.kill(signal);
  if (await waitForExit(child, timeoutMs)) return;
  child.kill('SIGKILL');
  await waitForExit(child, 5_000);
}

/**
 * Makes sure `child` does not outlive this Node process, however this process ends.
 *
 * - Normal exit (including process.exit()): an 'exit' hook SIGKILLs it (exit hooks must be synchronous).
 * - This process killed by a signal or crashing, where no hook runs: a tiny `sh` watchdog blocks reading
 *   a pipe whose write end only this process holds. When this process dies the pipe closes, `read`
 *   returns, and the watchdog sends `signal` to the child, then SIGKILL after `graceSeconds`, and finally
 *   removes `cleanupDir` (the server's temporary directory) if given.
 *
 * Returns a function that disarms both; call it once the child has been stopped on purpose.
 */
export function killWithParent(
  child: ChildProcess,
  opts: { signal: NodeJS.Signals; graceSeconds: number; cleanupDir?: string },
): () => void {
  const pid = child.pid;
  if (pid === undefined) return () => undefined;

  const script = [
    // Ctrl-C and hangups reach the whole process group: the watchdog must keep waiting for EOF.
    "trap '' INT HUP",
    'read -r _ || true',
    `if kill -${opts.signal.replace(/^SIG/, '')} ${pid} 2>/dev/null; then`,
    `  i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt ${opts.graceSeconds * 5} ]; do sleep 0.2; i=$((i+1)); done`,
    `  kill -KILL ${pid} 2>/dev/null; sleep 0.2`,
    'fi',
    opts.cleanupDir === undefined ? '' : `rm -rf -- ${shellQuote(opts.cleanupDir)}`,
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  // Neither the watchdog nor its pipe may keep the event loop (and so Jest or a CLI) alive.
  watchdog.unref();
  (watchdog.stdin as unknown as Socket | null)?.unref();
  watchdog.on('error', () => undefined);
  watchdog.stdin?.on('error', () => undefined);

  const onExit = (): void => {
    if (isRunning(child)) child.kill('SIGKILL');
  };
  process.on('exit', onExit);

  return () => {
    process.off('exit', onExit);
    if (isRunning(watchdog)) watchdog.kill('SIGKILL');
  };
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** A server could not bind its port: another process took it between freePorts() and the bind. */
export class PortInUseError extends Error {}

export function isPortInUse(logFile: string): boolean {
  return /Address already in use/.test(tailFile(logFile, 400));
}

/**
 * Starts a server, and when its ports were chosen here (not given by the caller) and one was taken in the
 * meantime, tries again with new ones.
 */
export async function retryOnPortConflict<T>(portsGiven: boolean, start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (portsGiven || attempt >= attempts || !(err instanceof PortInUseError)) throw err;
    }
  }
}
