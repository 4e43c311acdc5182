/**
 * The local stack, `npm run stack`: a real Kafka broker and PostgreSQL server on loopback (see
 * scripts/servers), and each app in its own process (TypeScript run with @swc-node/register), on
 * TRANSPORT=kafka, until Ctrl-C or SIGTERM, which stops everything it started, in order.
 *
 * Settings (environment): STACK_DIR (default .stack: kafka/, postgres/, logs/), KAFKA_PORT (9092),
 * PG_PORT (55432), STACK_GATEWAY_PORT (8080), STACK_PIPELINE_PORT (8081), STACK_RAW_PRODUCER_PORT
 * (8082), STACK_AGG_PRODUCER_PORT (8083), STACK_READY_TIMEOUT_MS (180000). Every other variable is
 * passed to the apps (LOG_LEVEL, KAFKA_TOPIC_PARTITIONS, REPLAY_SPEED...).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { killWithParent, terminate } from '../servers/process-utils';
import { AppRunner, STACK_APPS, StackApp } from './app.runner';
import { LogSink } from './log.sink';
import { stackSettings, StackSettings } from './stack.settings';
import { startServers, StackServers } from './stack.servers';

const ROOT = resolve(__dirname, '..', '..');
/** Set in the supervised copy of this script (see `supervise`). */
const SUPERVISED = 'STACK_SUPERVISED';

async function runStack(settings: StackSettings): Promise<void> {
  const sink = new LogSink(join(settings.dir, 'logs'));
  let serversStarting: Promise<StackServers> | undefined;
  const apps: AppRunner[] = [];
  let stopping: Promise<void> | undefined;

  // Order: the gateway first (no new tags), then the producer of trades, then the consumers (they
  // finish their batch, flush and commit while Kafka and PostgreSQL still run), then the servers.
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      sink.note(`${why}: stopping`);
      const byName = (names: readonly StackApp[]) => apps.filter((a) => names.includes(a.app.name));
      for (const group of [['gateway'], ['raw-producer'], ['pipeline', 'agg-producer']] as const) {
        await Promise.all(byName(group).map((a) => a.stop()));
      }
      // Servers still starting are stopped once they are up (a failed start cleaned up after itself).
      const servers = await serversStarting?.catch(() => undefined);
      await servers?.stop();
      sink.note('stopped');
      await sink.close();
    })();
    return stopping;
  };
  process.on('SIGINT', () => void stop('SIGINT').then(() => process.exit(0)));
  process.on('SIGTERM', () => void stop('SIGTERM').then(() => process.exit(0)));

  let servers: StackServers;
  try {
    sink.note(
      `starting Kafka (port ${settings.kafkaPort}) and PostgreSQL (port ${settings.pgPort}), data in ${settings.dir}`,
    );
    serversStarting = startServers(settings, sink);
    servers = await serversStarting;
    if (stopping !== undefined) return;
    sink.note(`Kafka ${servers.kafkaBrokers.join(',')}, PostgreSQL ${servers.databaseUrl}; starting the apps`);
    const deadline = Date.now() + settings.readyTimeoutMs;
    // One after the other until each listens: apps create their topics at start-up, and several
    // creating the same topic at once on a fresh broker fail (kafkajs' waitForLeaders).
    for (const app of STACK_APPS) {
      if (stopping !== undefined) return;
      const runner = AppRunner.start(app, {
        root: ROOT,
        port: settings.ports[app.name],
        env: { TRANSPORT: 'kafka', KAFKA_BROKERS: servers.kafkaBrokers.join(','), DATABASE_URL: servers.databaseUrl },
        sink,
        onUnexpectedExit: (code) =>
          sink.note(`${app.name} exited unexpectedly (${code}); see ${sink.fileOf(app.name)}`),
      });
      apps.push(runner);
      await runner.listening(deadline - Date.now());
    }
    await Promise.all(apps.map((a) => a.ready(deadline - Date.now())));
  } catch (err) {
    // Stopped by a signal while starting: the signal's handler finishes and exits.
    if (stopping !== undefined) return;
    sink.note(`the stack did not start: ${err instanceof Error ? err.message : String(err)}`);
    await stop('start-up failed');
    process.exit(1);
  }
  const url = (app: StackApp) => `http://127.0.0.1:${settings.ports[app]}`;
  sink.note(
    [
      'Local stack ready:',
      `  gateway       ${url('gateway')}   (docs ${url('gateway')}/docs, metrics ${url('gateway')}/metrics)`,
      `  pipeline      ${url('pipeline')}/health/ready`,
      `  raw-producer  ${url('raw-producer')}/health/ready`,
      `  agg-producer  ${url('agg-producer')}/health/ready`,
      `  Kafka         ${servers.kafkaBrokers.join(',')}`,
      `  PostgreSQL    ${servers.databaseUrl}`,
      `  Logs          ${join(settings.dir, 'logs')}/*.log`,
      'Ctrl-C stops everything.',
    ].join('\n'),
  );
}

/**
 * Runs this script again in a process group of its own and forwards Ctrl-C and SIGTERM to it as one
 * SIGTERM. Ctrl-C in a terminal signals the whole foreground group: without this, the broker, the
 * database and the apps would all stop at once, PostgreSQL before the consumers' last commit.
 */
function supervise(): void {
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    detached: true,
    stdio: 'inherit',
    env: { ...process.env, [SUPERVISED]: '1' },
  });
  const disarm = killWithParent(child, { signal: 'SIGTERM', graceSeconds: 60 });
  let signalled = false;
  const forward = (): void => {
    if (signalled) return;
    signalled = true;
    void terminate(child, 'SIGTERM', 90_000);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => {
    disarm();
    process.exit(code ?? (signal === null ? 1 : 128));
  });
}

if (process.env[SUPERVISED] === '1') void runStack(stackSettings(process.env, ROOT));
else supervise();
