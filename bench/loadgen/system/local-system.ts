/**
 * The product as the local stack runs it: a Kafka broker and a PostgreSQL server (started here unless
 * given), the gateway and the pipeline as child processes on Kafka, with a topic and consumer groups of
 * their own so that runs sharing a broker do not see each other. Used by the loadgen's CI run and by
 * bench/ingest.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KafkaServer } from '../../../scripts/servers/kafka-server';
import { PostgresServer } from '../../../scripts/servers/postgres-server';
import { AppProcess } from './app-process';

/** `KEY=VALUE` flags (a bench's --gateway-env, --pipeline-env) as an environment; anything else throws. */
export function envOf(pairs: readonly string[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (pairs ?? []).map((p) => {
      const at = p.indexOf('=');
      if (at <= 0) throw new Error(`expected KEY=VALUE, got ${p}`);
      return [p.slice(0, at), p.slice(at + 1)];
    }),
  );
}

export interface LocalSystemOptions {
  /** Existing brokers (e.g. the test run's); a broker is started when absent. */
  kafkaBrokers?: string;
  /** Existing, empty database; a PostgreSQL server is started when absent. */
  databaseUrl?: string;
  /** Name suffix of the topic and groups; random when absent. */
  runId?: string;
  debugCompare?: boolean;
  /** Extra environment of both apps (e.g. KAFKA_LINGER_MS). */
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  pipelineEnv?: Record<string, string>;
  /** Where the app and server logs go. */
  logDir?: string;
  /** Kafka broker heap, MB. */
  kafkaHeapMb?: number;
  /** More settings of the PostgreSQL server this starts. */
  postgresSettings?: Readonly<Record<string, string | number>>;
}

export class LocalSystem {
  private constructor(
    readonly gateway: AppProcess,
    readonly pipeline: AppProcess,
    readonly kafkaBrokers: string,
    readonly databaseUrl: string,
    readonly topic: string,
    readonly groups: { aggregates: string },
    readonly logDir: string,
    private readonly servers: { kafka?: KafkaServer; postgres?: PostgresServer },
  ) {}

  static async start(o: LocalSystemOptions = {}): Promise<LocalSystem> {
    const runId = o.runId ?? `${Date.now().toString(36)}-${process.pid}`;
    const logDir = o.logDir ?? resolve(__dirname, '..', '..', '..', '.cache', 'loadgen-system', runId);
    mkdirSync(logDir, { recursive: true });
    const servers: { kafka?: KafkaServer; postgres?: PostgresServer } = {};
    const apps: AppProcess[] = [];
    try {
      const [kafka, postgres] = await Promise.all([
        o.kafkaBrokers === undefined
          ? KafkaServer.start({ logFile: join(logDir, 'kafka.log'), heapMb: o.kafkaHeapMb })
          : undefined,
        o.databaseUrl === undefined
          ? PostgresServer.start({ logFile: join(logDir, 'postgres.log'), settings: o.postgresSettings })
          : undefined,
      ]);
      servers.kafka = kafka;
      servers.postgres = postgres;
      const brokers = o.kafkaBrokers ?? (kafka as KafkaServer).brokers.join(',');
      const databaseUrl = o.databaseUrl ?? (postgres as PostgresServer).url;
      const topic = `user-tags-${runId}`;
      const groups = { aggregates: `aggregates-${runId}` };
      const common = {
        TRANSPORT: 'kafka',
        KAFKA_BROKERS: brokers,
        DATABASE_URL: databaseUrl,
        TOPIC_USER_TAGS: topic,
        LOG_LEVEL: 'warn',
        ...o.env,
      };
      // The pipeline first: it runs the migrations and creates the topic; then the gateway.
      const pipeline = await AppProcess.start(
        'pipeline',
        { ...common, AGGREGATES_GROUP_ID: groups.aggregates, ...o.pipelineEnv },
        logDir,
      );
      apps.push(pipeline);
      await pipeline.ready();
      const gateway = await AppProcess.start(
        'gateway',
        { ...common, DEBUG_COMPARE: String(o.debugCompare ?? true), ...o.gatewayEnv },
        logDir,
      );
      apps.push(gateway);
      await gateway.ready();
      return new LocalSystem(gateway, pipeline, brokers, databaseUrl, topic, groups, logDir, servers);
    } catch (err) {
      await Promise.all(apps.map((a) => a.stop()));
      await Promise.all([servers.kafka?.stop(), servers.postgres?.stop()]);
      throw err;
    }
  }

  /** Stops the apps, then the servers this started (they remove their temporary data). */
  async stop(): Promise<void> {
    await Promise.all([this.gateway.stop(), this.pipeline.stop()]);
    await Promise.all([this.servers.kafka?.stop(), this.servers.postgres?.stop()]);
  }
}
