import { bool, hostPortList, int, oneOf, optionalStr, optionalUrl, secret, str } from '../env';

/** Variables every app reads. */
export const processVars = {
  LOG_LEVEL: oneOf(['error', 'warn', 'log', 'debug', 'verbose'] as const, 'log'),
  /** Interface the HTTP server binds to; 127.0.0.1 keeps a developer machine closed. */
  HOST: str('127.0.0.1', { pattern: /^[A-Za-z0-9.:-]+$/, expects: 'a host name or IP address' }),
  SHUTDOWN_TIMEOUT_MS: int(10_000, { min: 100, max: 600_000 }),
};

export const httpPort = (defaultPort: number) => ({ PORT: int(defaultPort, { min: 1, max: 65_535 }) });

/** Kafka, or the in-process transport of the embedded mode. */
export const transportVars = {
  TRANSPORT: oneOf(['in-process', 'kafka'] as const, 'in-process'),
  KAFKA_BROKERS: hostPortList('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: optionalStr({ pattern: /^[A-Za-z0-9._-]+$/, expects: 'letters, digits, ".", "_" or "-", or unset' }),
  KAFKA_CONNECTION_TIMEOUT_MS: int(3_000, { min: 100, max: 120_000 }),
  KAFKA_REQUEST_TIMEOUT_MS: int(30_000, { min: 100, max: 300_000 }),
  /** Partitions of topics this app creates when they are missing. */
  KAFKA_TOPIC_PARTITIONS: int(4, { min: 1, max: 10_000 }),
  KAFKA_REPLICATION_FACTOR: int(1, { min: 1, max: 10 }),
  SCHEMA_REGISTRY_URL: optionalUrl(['http', 'https']),
  TOPIC_USER_TAGS: str('user-tags', { pattern: /^[A-Za-z0-9._-]{1,200}$/, expects: 'a Kafka topic name' }),
  TOPIC_DERIBIT_TRADES: str('deribit-trades', { pattern: /^[A-Za-z0-9._-]{1,200}$/, expects: 'a Kafka topic name' }),
  TOPIC_TRADE_STATS: str('deribit-trade-stats', { pattern: /^[A-Za-z0-9._-]{1,200}$/, expects: 'a Kafka topic name' }),
  /** W3C trace context is always propagated; this only turns on an exporter. */
  OTEL_EXPORTER_ENABLED: bool(false),
};

/** Producer batching: a send waits at most KAFKA_LINGER_MS to share a request with others. */
export const producerVars = {
  KAFKA_LINGER_MS: int(1, { min: 0, max: 1_000 }),
  KAFKA_BATCH_MAX_MESSAGES: int(2_000, { min: 1, max: 100_000 }),
  KAFKA_PRODUCE_TIMEOUT_MS: int(1_000, { min: 10, max: 120_000 }),
};

/** PostgreSQL: a server when DATABASE_URL is set, otherwise PGlite persisted under DATA_DIR. */
export const databaseVars = {
  DATABASE_URL: secret(optionalUrl(['postgres', 'postgresql'])),
  DATABASE_POOL_SIZE: int(10, { min: 1, max: 500 }),
  DATA_DIR: str('./.data', { expects: 'a directory path' }),
};
