/**
 * Jest globalSetup of the `integration` project: one real Kafka broker and one PostgreSQL server for the
 * whole run, started in parallel. Test workers find them through TEST_KAFKA_BROKERS and TEST_DATABASE_URL
 * (workers are forked after this runs, so they inherit process.env). If either variable is already set,
 * that server is reused and not started.
 */
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { assertPrerequisites } from '../../scripts/servers/prerequisites';

/** Read by global-teardown.ts: globalSetup and globalTeardown run in the same process. */
export interface TestServers {
  kafka?: KafkaServer;
  postgres?: PostgresServer;
}

declare global {
  var __TEST_SERVERS__: TestServers | undefined;
}

const LOG_DIR = resolve(__dirname, '..', '..', '.cache', 'test-servers');
const DAY_MS = 24 * 60 * 60 * 1000;

function isSet(name: string): boolean {
  return (process.env[name] ?? '').trim() !== '';
}

/** Logs are kept after the run for post-mortems, one pair per run (runs may overlap); a day is enough. */
function prepareLogDir(): void {
  mkdirSync(LOG_DIR, { recursive: true });
  for (const file of readdirSync(LOG_DIR)) {
    const path = join(LOG_DIR, file);
    if (Date.now() - statSync(path).mtimeMs > DAY_MS) rmSync(path, { force: true });
  }
}

export default async function globalSetup(): Promise<void> {
  const need = { kafka: !isSet('TEST_KAFKA_BROKERS'), postgres: !isSet('TEST_DATABASE_URL') };
  // kafkajs 2 warns on every producer that its default partitioner changed in 2.0.
  process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';
  if (!need.kafka && !need.postgres) return;

  assertPrerequisites(need);
  prepareLogDir();
  const run = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}`;
  const report: string[] = [];
  const timed = async <T>(what: string, start: () => Promise<T>, describe: (server: T) => string): Promise<T> => {
    const t0 = Date.now();
    const server = await start();
    report.push(`${what} on ${describe(server)} in ${Date.now() - t0} ms`);
    return server;
  };

  const [kafka, postgres] = await Promise.allSettled([
    need.kafka
      ? timed(
          `Kafka ${KafkaServer.version}`,
          () => KafkaServer.start({ logFile: join(LOG_DIR, `${run}-kafka.log`) }),
          (s) => s.brokers.join(','),
        )
      : undefined,
    need.postgres
      ? timed(
          'PostgreSQL',
          () => PostgresServer.start({ logFile: join(LOG_DIR, `${run}-postgres.log`) }),
          (s) => s.url,
        )
      : undefined,
  ]);
  const servers: TestServers = {
    kafka: kafka.status === 'fulfilled' ? kafka.value : undefined,
    postgres: postgres.status === 'fulfilled' ? postgres.value : undefined,
  };
  const failures = [kafka, postgres].filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    await Promise.all([servers.kafka?.stop(), servers.postgres?.stop()]);
    throw new Error(
      failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n\n'),
    );
  }

  globalThis.__TEST_SERVERS__ = servers;
  if (servers.kafka) process.env.TEST_KAFKA_BROKERS = servers.kafka.brokers.join(',');
  if (servers.postgres) process.env.TEST_DATABASE_URL = servers.postgres.url;
  console.log(`\n[integration] started ${report.join('; ')} (logs: ${LOG_DIR})`);
}
