/** What the kafka-avro benches share: the broker's CPU from /proc, and the messaging config of a bench client. */
import { readdirSync, readFileSync } from 'node:fs';
import type { MessagingConfig } from '@lib/kafka-avro';

/** CPU seconds so far of this process and of the broker (its JVM, running kafka.Kafka, is a child of this process). */
export function cpuSeconds(): { client: number; broker: number } {
  const own = process.cpuUsage();
  let broker = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka'))
        continue;
      broker += (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
    } catch {
      // The process ended meanwhile.
    }
  }
  return { client: (own.user + own.system) / 1e6, broker };
}

/** A bench client's messaging config for `brokers`: the apps' defaults but for `overrides`. */
export function benchMessagingConfig(brokers: string[], overrides: Partial<MessagingConfig> = {}): MessagingConfig {
  return {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: brokers,
    KAFKA_CLIENT_ID: 'bench',
    KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
    KAFKA_REQUEST_TIMEOUT_MS: 30_000,
    KAFKA_SESSION_TIMEOUT_MS: 10_000,
    KAFKA_TOPIC_PARTITIONS: 4,
    KAFKA_REPLICATION_FACTOR: 1,
    SCHEMA_REGISTRY_URL: undefined,
    TOPIC_USER_TAGS: 'user-tags',
    TOPIC_DERIBIT_TRADES: 'deribit-trades',
    TOPIC_TRADE_STATS: 'deribit-trade-stats',
    OTEL_EXPORTER_ENABLED: false,
    KAFKA_LINGER_MS: 1,
    KAFKA_BATCH_MAX_MESSAGES: 2_000,
    KAFKA_PRODUCE_TIMEOUT_MS: 5_000,
    ...overrides,
  };
}
