import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from 'pg';
import { findPgBinDir } from './pg-binaries';
import {
  freePort,
  isPortInUse,
  isRunning,
  killWithParent,
  PortInUseError,
  retryOnPortConflict,
  sleep,
  tailFile,
  terminate,
  waitForExit,
} from './process-utils';

export interface PostgresServerOptions {
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /** Kept (not deleted on stop) when given; initdb runs only if it holds no cluster yet. */
  dataDir?: string;
  /** Server log (stderr of the postmaster); default `<temp dir>/postgres.log`. */
  logFile?: string;
  /** How long to wait for `SELECT 1` to succeed; default 60 s. */
  startTimeoutMs?: number;
  /** More server settings (`-c name=value`), e.g. `shared_preload_libraries` for a bench's statistics. */
  settings?: Readonly<Record<string, string | number>>;
}

export interface RunAs {
  uid: number;
  gid: number;
}

/**
 * A throwaway PostgreSQL server (Debian's binaries) on 127.0.0.1 with trust authentication, for tests and
 * the local stack. As root, initdb and postgres run as the `postgres` user: both refuse to run as root.
 */
export class PostgresServer {
  private stopped = false;

  private constructor(
    /** postgres://postgres@127.0.0.1:PORT/postgres */
    readonly url: string,
    readonly port: number,
    readonly dataDir: string,
    readonly logFile: string,
    private readonly child: ChildProcess,
    private readonly disarm: () => void,
    /** Holds the unix socket, and the data dir and log unless they were given. Always removed on stop. */
    private readonly runDir: string,
  ) {}

  static start(opts: PostgresServerOptions = {}): Promise<PostgresServer> {
    return retryOnPortConflict(opts.port !== undefined, () => PostgresServer.startOnce(opts));
  }

  private static async startOnce(opts: PostgresServerOptions): Promise<PostgresServer> {
    const bin = findPgBinDir();
    if (bin === undefined) {
      throw new Error(
        'PostgreSQL server binaries (initdb, postgres) not found: set PG_BIN_DIR or install the Debian package ' +
          '`postgresql` (apt-get install -y postgresql).',
      );
    }
    const runAs = postgresUser();
    if (opts.dataDir !== undefined) assertServerCanReach(opts.dataDir, runAs);
    const port = opts.port ?? (await freePort());

    const runDir = mkdtempSync(join(tmpdir(), 'pg-test-'));
    const temporaryData = opts.dataDir === undefined;
    const dataDir = temporaryData ? join(runDir, 'data') : resolve(opts.dataDir as string);
    const logFile = resolve(opts.logFile ?? join(runDir, 'postgres.log'));
    // The server user must own the socket dir and the data dir (mode 0700, or postgres refuses to start).
    giveTo(runDir, runAs, 0o755);
    mkdirSync(dataDir, { recursive: true });
    giveTo(dataDir, runAs, 0o700);

    const fd = openSync(logFile, 'w');
    let child: ChildProcess;
    try {
      if (!existsSync(join(dataDir, 'PG_VERSION'))) {
        const initdbArgs = ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C'];
        if (temporaryData) initdbArgs.push('--no-sync');
        await runToCompletion(join(bin, 'initdb'), initdbArgs, fd, logFile, runAs, runDir);
      }
      const settings: Record<string, string | number> = {
        listen_addresses: '127.0.0.1',
        port,
        unix_socket_directories: runDir,
        max_connections: 200,
        shared_buffers: '128MB',
        // Stderr goes to our log file; a logging collector would only add a process.
        logging_collector: 'off',
        log_min_messages: 'warning',
      };
      Object.assign(settings, opts.settings);
      if (temporaryData) {
        // The data is thrown away at stop(): durability only costs time (CREATE DATABASE, commits).
        settings.fsync = 'off';
        settings.synchronous_commit = 'off';
        settings.full_page_writes = 'off';
      }
      const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
      // cwd: the server user may not be able to enter ours (e.g. /root).
      child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', fd, fd], cwd: runDir, ...runAs });
    } finally {
      closeSync(fd);
    }
    child.on('error', () => undefined); // spawn failure: no pid, waitUntilReady reports it with the log
    // SIGINT is PostgreSQL's "fast" shutdown (what `pg_ctl stop -m fast` sends).
    const disarm = killWithParent(child, { signal: 'SIGINT', graceSeconds: 10, cleanupDir: runDir });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const server = new PostgresServer(url, port, dataDir, logFile, child, disarm, runDir);

    try {
      await server.waitUntilReady(opts.startTimeoutMs ?? 60_000);
    } catch (err) {
      await terminate(child, 'SIGQUIT', 5_000);
      disarm();
      if (isPortInUse(logFile)) {
        rmSync(runDir, { recursive: true, force: true });
        throw new PortInUseError((err as Error).message);
      }
      throw err;
    }
    return server;
  }

  /**
   * Freezes (SIGSTOP) or thaws (SIGCONT) the whole server: the postmaster and every process it forked
   * (backends, checkpointer, WAL writer...). Frozen, it accepts TCP connections (the kernel does) and
   * answers nothing: a hung database, not a down one. Answers how many processes were signalled.
   */
  signalAll(signal: 'SIGSTOP' | 'SIGCONT'): number {
    const pid = this.child.pid;
    if (pid === undefined || !isRunning(this.child)) throw new Error('PostgreSQL is not running');
    const childrenOf = (parent: number): number[] =>
      readdirSync('/proc')
        .filter((entry) => /^\d+$/.test(entry))
        .filter((entry) => {
          try {
            // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces: split after the last ')'.
            const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
            return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent;
          } catch {
            return false; // exited meanwhile
          }
        })
        .map(Number);
    // The postmaster first when freezing (it forks nothing more), last when thawing.
    if (signal === 'SIGSTOP') process.kill(pid, signal);
    const children = childrenOf(pid);
    for (const child of children) process.kill(child, signal);
    if (signal === 'SIGCONT') process.kill(pid, signal);
    const order = [pid, ...children];
    return order.length;
  }

  /** Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL; removes what start() created. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (isRunning(this.child)) {
      this.child.kill('SIGINT');
      if (!(await waitForExit(this.child, 15_000))) await terminate(this.child, 'SIGQUIT', 5_000);
    }
    this.disarm();
    rmSync(this.runDir, { recursive: true, force: true });
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = 'no answer yet';
    while (Date.now() < deadline) {
      if (!isRunning(this.child)) {
        throw this.startError(`postgres exited (code ${this.child.exitCode}, signal ${this.child.signalCode})`);
      }
      const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 1_000 });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const { rows } = await client.query<{ ok: number }>('SELECT 1 AS ok');
        if (rows[0]?.ok === 1) return;
      } catch (err) {
        lastError = (err as Error).message;
      } finally {
        await client.end().catch(() => undefined);
      }
      await sleep(100);
    }
    throw this.startError(`no answer to SELECT 1 within ${timeoutMs} ms (last error: ${lastError})`);
  }

  private startError(reason: string): Error {
    return new Error(
      `PostgreSQL on 127.0.0.1:${this.port} did not start: ${reason}.\n` +
        `Data dir: ${this.dataDir}\nLast lines of ${this.logFile}:\n${tailFile(this.logFile, 40)}`,
    );
  }
}

/** As root: the `postgres` account (created by Debian's postgresql package). Otherwise: run as ourselves. */
function postgresUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string): number =>
      Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(
      'Running as root, but there is no `postgres` user to run initdb/postgres as (they refuse root). ' +
        'Install the Debian package `postgresql` (it creates the user) or `useradd -r postgres`.',
    );
  }
}

/**
 * Throws one line saying what to do when the server's user cannot reach `dataDir`: as root, initdb and
 * postgres run as `postgres`, and a directory on the way that only root may enter (`mktemp -d` makes
 * them 0700) stops initdb with a bare "Permission denied". Directories this module creates are handed
 * to the server user; a directory the caller made is theirs to open, so it is named, not changed.
 */
export function assertServerCanReach(dataDir: string, runAs: RunAs | undefined = postgresUser()): void {
  const blocked = firstUnreachableDirectory(resolve(dataDir), runAs);
  if (blocked === undefined) return;
  const mode = (statSync(blocked).mode & 0o777).toString(8).padStart(4, '0');
  throw new Error(
    `PostgreSQL runs as the user postgres (uid ${runAs?.uid}), which cannot enter ${blocked} (mode ${mode}): ` +
      `run \`chmod o+x ${blocked}\` or put the data under a directory it can enter.`,
  );
}

/**
 * The outermost existing directory above `path` that `runAs` may not enter; undefined if none. `path`
 * itself is left out: the server start hands it to the server user.
 */
export function firstUnreachableDirectory(path: string, runAs: RunAs | undefined): string | undefined {
  if (runAs === undefined) return undefined; // the server runs as us, and we got here
  const ancestors: string[] = [];
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    if (existsSync(dir)) ancestors.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  // Asked of the kernel as that user (`test -x`), so ACLs and supplementary groups count as they will.
  return ancestors.find((dir) => spawnSync('test', ['-x', dir], { stdio: 'ignore', ...runAs }).status !== 0);
}

function giveTo(dir: string, runAs: RunAs | undefined, mode: number): void {
  if (runAs !== undefined) chownSync(dir, runAs.uid, runAs.gid);
  chmodSync(dir, mode);
}

function runToCompletion(
  command: string,
  args: string[],
  fd: number,
  logFile: string,
  runAs: RunAs | undefined,
  cwd: string,
): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', fd, fd], cwd, ...runAs });
    child.on('error', (err) => reject(new Error(`Could not run ${command}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else
        reject(
          new Error(
            `${command} failed (code ${code}, signal ${signal}).\nLast lines of ${logFile}:\n${tailFile(logFile, 40)}`,
          ),
        );
    });
  });
}
