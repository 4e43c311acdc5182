import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * PGlite (PostgreSQL compiled to WebAssembly) persisted under a directory and served on a loopback
 * port through pglite-socket, so `pg` and TypeORM connect to it exactly as to a server.
 *
 * PGlite is ONE backend session: pglite-socket queues every connection's queries onto it, and while
 * one connection is inside a transaction only that connection's queries run. So transactions are
 * serialised (correct, not concurrent), and session state (prepared statement names, advisory locks,
 * SET) is shared by all connections: adapters must not rely on per-connection session state.
 *
 * The embedded mode runs every app in one process, each asking for a DataSource: they all share one
 * PGlite per directory through reference-counted leases. Another process opening the same directory
 * would corrupt it, so a lock file names the owning process and a second process fails fast.
 */
export interface EmbeddedPostgresLease {
  readonly host: string;
  readonly port: number;
  /** Directory holding the PGlite cluster. */
  readonly dataDir: string;
  /** Gives the lease back; the last one stops the server and closes PGlite. Idempotent. */
  release(): Promise<void>;
}

interface Running {
  readonly db: PGlite;
  readonly server: PGLiteSocketServer;
  readonly port: number;
  readonly lockFile: string;
}

interface Entry {
  refs: number;
  readonly started: Promise<Running>;
}

/**
 * Each app's pool opens up to DATABASE_POOL_SIZE connections and pglite-socket refuses connections
 * beyond its limit (default 1). Connections cost only a socket here, so the limit is generous.
 */
const MAX_CONNECTIONS = 512;
const HOST = '127.0.0.1';

const entries = new Map<string, Entry>();
/** Stops in progress per directory: a new lease waits for them before reopening the files. */
const stopping = new Map<string, Promise<void>>();

/** The PGlite cluster directory under an app's DATA_DIR. */
export function embeddedDataDir(dataDir: string): string {
  return join(resolve(dataDir), 'pglite');
}

export async function acquireEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgresLease> {
  const dir = resolve(dataDir);
  await stopping.get(dir);
  let entry = entries.get(dir);
  if (entry === undefined) {
    const started = start(dir);
    entry = { refs: 0, started };
    entries.set(dir, entry);
    // A failed start must not be reused by the next caller.
    started.catch(() => {
      if (entries.get(dir) === entry) entries.delete(dir);
    });
  }
  entry.refs += 1;
  let running: Running;
  try {
    running = await entry.started;
  } catch (err) {
    entry.refs -= 1;
    throw err;
  }
  let released = false;
  return {
    host: HOST,
    port: running.port,
    dataDir: dir,
    release: async () => {
      if (released) return;
      released = true;
      await releaseOne(dir, entry);
    },
  };
}

async function releaseOne(dir: string, entry: Entry): Promise<void> {
  entry.refs -= 1;
  if (entry.refs > 0 || entries.get(dir) !== entry) return;
  entries.delete(dir);
  const stop = entry.started.then(stopRunning).finally(() => stopping.delete(dir));
  stopping.set(dir, stop);
  await stop;
}

async function start(dir: string): Promise<Running> {
  mkdirSync(dir, { recursive: true });
  const lockFile = `${dir}.lock`;
  takeDirectoryLock(lockFile);
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(dir);
    const server = new PGLiteSocketServer({ db, host: HOST, port: 0, maxConnections: MAX_CONNECTIONS });
    await server.start();
    return { db, server, port: portOf(server.getServerConn()), lockFile };
  } catch (err) {
    await db?.close().catch(() => undefined);
    rmSync(lockFile, { force: true });
    throw err;
  }
}

async function stopRunning(running: Running): Promise<void> {
  try {
    await running.server.stop();
  } finally {
    try {
      await running.db.close();
    } finally {
      rmSync(running.lockFile, { force: true });
    }
  }
}

function portOf(conn: string): number {
  const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`pglite-socket reported no port: ${conn}`);
  return port;
}

/** Claims `lockFile` for this process, or throws naming the live process that holds it. */
function takeDirectoryLock(lockFile: string): void {
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number(readFileSync(lockFile, 'utf8').trim());
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
    throw new Error(
      `The embedded database ${lockFile.replace(/\.lock$/, '')} is in use by process ${owner}. ` +
        'Only one process may open it: run the apps in one process (embedded mode), give each process its ' +
        'own DATA_DIR, or set DATABASE_URL to a PostgreSQL server.',
    );
  }
  // Left behind by a process that died (or by this one, e.g. a test that did not release): take over.
  writeFileSync(lockFile, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
