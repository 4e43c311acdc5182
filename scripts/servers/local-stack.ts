/**
 * Runs a real Kafka broker and PostgreSQL server for local development until Ctrl-C:
 *   npx tsx scripts/servers/local-stack.ts
 * Data persists in .stack/ (delete it for a fresh start). Ports: KAFKA_PORT (default 9092) and
 * PG_PORT (default 55432, away from a system PostgreSQL on 5432).
 */
import { join, resolve } from 'node:path';
import { KafkaServer } from './kafka-server';
import { PostgresServer } from './postgres-server';
import { assertPrerequisites } from './prerequisites';

async function main(): Promise<void> {
  assertPrerequisites();
  const stackDir = resolve(__dirname, '..', '..', '.stack');
  const kafkaPort = Number(process.env.KAFKA_PORT ?? 9092);
  const pgPort = Number(process.env.PG_PORT ?? 55432);

  const [kafka, postgres] = await Promise.all([
    KafkaServer.start({ port: kafkaPort, dataDir: join(stackDir, 'kafka'), logFile: join(stackDir, 'kafka.log') }),
    PostgresServer.start({
      port: pgPort,
      dataDir: join(stackDir, 'postgres'),
      logFile: join(stackDir, 'postgres.log'),
    }),
  ]);
  console.log(`Kafka ${KafkaServer.version}: KAFKA_BROKERS=${kafka.brokers.join(',')}  (log: ${kafka.logFile})`);
  console.log(`PostgreSQL: DATABASE_URL=${postgres.url}  (log: ${postgres.logFile})`);
  console.log('Press Ctrl-C to stop.');

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping...');
    void Promise.all([kafka.stop(), postgres.stop()]).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
