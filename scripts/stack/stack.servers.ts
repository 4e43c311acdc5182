import { join } from 'node:path';
import { KafkaServer } from '../servers/kafka-server';
import { assertServerCanReach, PostgresServer } from '../servers/postgres-server';
import { assertPrerequisites } from '../servers/prerequisites';
import type { LogSink } from './log.sink';
import type { StackSettings } from './stack.settings';

export interface StackServers {
  readonly kafkaBrokers: string[];
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

/** Kafka and PostgreSQL, in parallel, data kept under the stack's directory; neither or both. */
export async function startServers(settings: StackSettings, sink: LogSink): Promise<StackServers> {
  assertPrerequisites();
  // Before Kafka starts: a STACK_DIR PostgreSQL's user cannot enter is a one-line fix for the user.
  assertServerCanReach(join(settings.dir, 'postgres'));
  const [kafka, postgres] = await Promise.allSettled([
    KafkaServer.start({
      port: settings.kafkaPort,
      dataDir: join(settings.dir, 'kafka'),
      logFile: sink.fileOf('kafka'),
    }),
    PostgresServer.start({
      port: settings.pgPort,
      dataDir: join(settings.dir, 'postgres'),
      logFile: sink.fileOf('postgres'),
    }),
  ]);
  if (kafka.status === 'rejected' || postgres.status === 'rejected') {
    await Promise.all([
      kafka.status === 'fulfilled' ? kafka.value.stop() : undefined,
      postgres.status === 'fulfilled' ? postgres.value.stop() : undefined,
    ]);
    const reasons = [kafka, postgres].flatMap((r) =>
      r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : [],
    );
    throw new Error(reasons.join('\n'));
  }
  return {
    kafkaBrokers: kafka.value.brokers,
    databaseUrl: postgres.value.url,
    stop: async () => {
      await Promise.all([kafka.value.stop(), postgres.value.stop()]);
    },
  };
}
