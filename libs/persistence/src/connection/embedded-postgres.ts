import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { takeProcessLock } from '@lib/platform/process/process-lock';

/**
 * PGlite (PostgreSQL compiled to WebAssembly) persisted under a directory and served on a loopback
 * port through pglite-socket, so `pg` and TypeORM connect to it exactly as to a server.
 *
 * It runs in a worker thread: PGlite executes queries synchronously inside WebAssembly, which on the
 * main thread would stall every HTTP request and consumer of the embedded mode while a flush or a
 * migration runs; in a worker it gets a core of its own. (It also keeps PGlite's dynamic imports
 * out of module sandboxes such as Jest's, where they cannot load.)
 *
 * PGlite is ONE backend session, and pglite-socket feeds it every connection's protocol messages one
 * message at a time: the Parse/Bind/Execute/Sync sequences of two connections interleave on it, and
 * its session state (unnamed statement and portal, prepared statement names, open transaction,
 * advisory locks, SET) belongs to whichever connection spoke last. Only one connection at a time is
 * safe: createDataSource gives the whole process one DataSource with one connection to it
 * (data-source.factory.ts). The session also outlives that connection (the pool may reopen it), so
 * adapters use no named prepared statements here.
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
  readonly worker: Worker;
  readonly port: number;
  readonly lockFile: string;
}

interface Entry {
  refs: number;
  readonly started: Promise<Running>;
}

type WorkerMessage = { type: 'ready'; port: number } | { type: 'stopped' } | { type: 'error'; message: string };

/**
 * pglite-socket refuses connections beyond its limit (default 1). The process holds one connection,
 * but a replaced one may still be closing while its successor connects.
 */
const MAX_CONNECTIONS = 8;
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 30_000;

/**
 * The worker, as source evaluated in a fresh context (no file to ship next to compiled code, and
 * it runs the same under tsx, swc or plain node). It requires the packages by the absolute paths the
 * parent resolved, opens PGlite, serves it, and on 'stop' closes both.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);
const { PGLiteSocketServer } = require(workerData.socketPath);
let db;
let server;
const fail = (err) => parentPort.postMessage({ type: 'error', message: String((err && err.stack) || err) });
(async () => {
  db = await PGlite.create(workerData.dataDir);
  server = new PGLiteSocketServer({ db, host: workerData.host, port: 0, maxConnections: workerData.maxConnections });
  await server.start();
  const conn = server.getServerConn();
  parentPort.postMessage({ type: 'ready', port: Number(conn.slice(conn.lastIndexOf(':') + 1)) });
})().catch(fail);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  (async () => {
    if (server) await server.stop();
    if (db) await db.close();
    parentPort.postMessage({ type: 'stopped' });
  })().catch(fail);
});
`;

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
    const created: Entry = { refs: 0, started: start(dir, () => forget(dir, created)) };
    entry = created;
    entries.set(dir, created);
    // A failed start must not be reused by the next caller.
    created.started.catch(() => forget(dir, created));
  }
  const leased = entry;
  leased.refs += 1;
  let running: Running;
  try {
    running = await leased.started;
  } catch (err) {
    leased.refs -= 1;
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
      await releaseOne(dir, leased);
    },
  };
}

function forget(dir: string, entry: Entry): void {
  if (entries.get(dir) === entry) entries.delete(dir);
}

async function releaseOne(dir: string, entry: Entry): Promise<void> {
  entry.refs -= 1;
  if (entry.refs > 0 || entries.get(dir) !== entry) return;
  entries.delete(dir);
  const stop = entry.started.then(stopRunning).finally(() => stopping.delete(dir));
  stopping.set(dir, stop);
  await stop;
}

async function start(dir: string, onUnexpectedExit: () => void): Promise<Running> {
  mkdirSync(dir, { recursive: true });
  const lockFile = `${dir}.lock`;
  takeProcessLock(
    lockFile,
    (owner) =>
      `The embedded database ${dir} is in use by process ${owner}. ` +
      'Only one process may open it: run the apps in one process (embedded mode), give each process its ' +
      'own DATA_DIR, or set DATABASE_URL to a PostgreSQL server.',
  );
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      dataDir: dir,
      host: HOST,
      maxConnections: MAX_CONNECTIONS,
      pglitePath: require.resolve('@electric-sql/pglite'),
      socketPath: require.resolve('@electric-sql/pglite-socket'),
    },
  });
  try {
    const port = await new Promise<number>((resolvePort, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`PGlite did not start within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const settle = (fn: () => void): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        fn();
      };
      const onMessage = (m: WorkerMessage): void => {
        if (m.type === 'ready') settle(() => resolvePort(m.port));
        if (m.type === 'error') settle(() => reject(new Error(`PGlite failed to start in ${dir}: ${m.message}`)));
      };
      const onError = (err: Error): void => settle(() => reject(err));
      const onExit = (code: number): void =>
        settle(() => reject(new Error(`PGlite worker exited (code ${code}) while starting`)));
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    // From now on an exit we did not ask for (a crash) drops the entry, so the next lease restarts it.
    worker.once('exit', onUnexpectedExit);
    return { worker, port, lockFile };
  } catch (err) {
    await worker.terminate();
    rmSync(lockFile, { force: true });
    throw err;
  }
}

async function stopRunning(running: Running): Promise<void> {
  const { worker } = running;
  try {
    await new Promise<void>((resolveStop, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`PGlite did not close within ${STOP_TIMEOUT_MS} ms`)),
        STOP_TIMEOUT_MS,
      );
      const onMessage = (m: WorkerMessage): void => {
        if (m.type !== 'stopped' && m.type !== 'error') return;
        clearTimeout(timer);
        worker.off('message', onMessage);
        if (m.type === 'stopped') resolveStop();
        else reject(new Error(`PGlite failed to close: ${m.message}`));
      };
      worker.on('message', onMessage);
      worker.postMessage('stop');
    });
  } finally {
    await worker.terminate();
    rmSync(running.lockFile, { force: true });
  }
}
