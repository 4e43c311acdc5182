import { bool, doc, hostPortList, int, oneOf, optionalStr, optionalUrl, secret, str } from '../env';

const topicName = (defaultName: string, what: string) =>
  doc(what, str(defaultName, { pattern: /^[A-Za-z0-9._-]{1,200}$/, expects: 'a Kafka topic name' }));

/** Variables every app reads. */
export const processVars = {
  LOG_LEVEL: doc('Most verbose log level printed', oneOf(['error', 'warn', 'log', 'debug', 'verbose'] as const, 'log')),
  HOST: doc(
    'Interface the HTTP server binds to; 127.0.0.1 keeps a developer machine closed, 0.0.0.0 in containers',
    str('127.0.0.1', { pattern: /^[A-Za-z0-9.:-]+$/, expects: 'a host name or IP address' }),
  ),
  SHUTDOWN_TIMEOUT_MS: doc(
    'Time SIGTERM gives in-flight requests and consumers to finish before the process exits',
    int(10_000, { min: 100, max: 600_000 }),
  ),
};

export const httpPort = (defaultPort: number) => ({
  PORT: doc('TCP port of the HTTP server (API, health, metrics)', int(defaultPort, { min: 1, max: 65_535 })),
});

/** Kafka, or the in-process transport of the embedded mode. */
export const transportVars = {
  TRANSPORT: doc(
    'Message transport: in-process (the embedded mode, npm start, only; an app started on its own needs kafka) or kafka',
    oneOf(['in-process', 'kafka'] as const, 'in-process'),
  ),
  KAFKA_BROKERS: doc('Kafka bootstrap brokers (TRANSPORT=kafka)', hostPortList('127.0.0.1:9092')),
  KAFKA_CLIENT_ID: doc(
    'Kafka client id; the app name when unset',
    optionalStr({ pattern: /^[A-Za-z0-9._-]+$/, expects: 'letters, digits, ".", "_" or "-", or unset' }),
  ),
  KAFKA_CONNECTION_TIMEOUT_MS: doc(
    'Timeout of a connection attempt to a broker',
    int(3_000, { min: 100, max: 120_000 }),
  ),
  KAFKA_REQUEST_TIMEOUT_MS: doc('Timeout of one request to a broker', int(30_000, { min: 100, max: 300_000 })),
  KAFKA_SESSION_TIMEOUT_MS: doc(
    "Consumer group session timeout: how soon a crashed consumer's partitions move to another (heartbeats every tenth of it)",
    int(10_000, { min: 6_000, max: 300_000 }),
  ),
  KAFKA_TOPIC_PARTITIONS: doc(
    'Partitions of topics this app creates at start-up when missing; at least the number of consumer replicas',
    int(4, { min: 1, max: 10_000 }),
  ),
  KAFKA_REPLICATION_FACTOR: doc('Replication factor of topics created at start-up', int(1, { min: 1, max: 10 })),
  SCHEMA_REGISTRY_URL: doc(
    'Confluent Schema Registry; when set, messages use its wire format instead of Avro single-object encoding',
    optionalUrl(['http', 'https']),
  ),
  TOPIC_USER_TAGS: topicName('user-tags', 'Topic of user tags (key: cookie)'),
  TOPIC_DERIBIT_TRADES: topicName('deribit-trades', 'Topic of Deribit trades (key: instrument_name)'),
  TOPIC_TRADE_STATS: topicName(
    'deribit-trade-stats',
    'Topic of per-instrument window statistics (key: instrument and window start)',
  ),
  OTEL_EXPORTER_ENABLED: doc(
    'Export OpenTelemetry spans (W3C trace context is propagated in message headers either way)',
    bool(false),
  ),
};

/** Producer batching: a send waits at most KAFKA_LINGER_MS to share a request with others. */
export const producerVars = {
  KAFKA_LINGER_MS: doc(
    'How long a produce waits for others to share its request (higher: fewer, larger requests)',
    int(1, { min: 0, max: 1_000 }),
  ),
  KAFKA_BATCH_MAX_MESSAGES: doc('Most messages in one produce request', int(2_000, { min: 1, max: 100_000 })),
  KAFKA_PRODUCE_TIMEOUT_MS: doc(
    'Longest wait for a write to be acknowledged (acks=all) before the caller gets an error (gateway: 503)',
    int(1_000, { min: 10, max: 120_000 }),
  ),
};

/** PostgreSQL: a server when DATABASE_URL is set, otherwise PGlite persisted under DATA_DIR. */
export const databaseVars = {
  DATABASE_URL: doc(
    'PostgreSQL server; when unset, an embedded PGlite database persisted under DATA_DIR',
    secret(optionalUrl(['postgres', 'postgresql'])),
  ),
  DATABASE_POOL_SIZE: doc('Connections in the PostgreSQL pool', int(10, { min: 1, max: 500 })),
  DATABASE_QUERY_TIMEOUT_MS: doc(
    'PostgreSQL server: longest wait for a read (and for a pooled connection) before it fails; the gateway then answers 503',
    int(5_000, { min: 100, max: 600_000 }),
  ),
  DATABASE_WRITE_TIMEOUT_MS: doc(
    "PostgreSQL server: longest wait for one of the pipeline's write statements (a cube flush, profile lists) before it fails and is retried",
    int(60_000, { min: 100, max: 3_600_000 }),
  ),
  DATA_DIR: doc(
    "Directory of the embedded mode's data: its durable in-process log (log/) and PGlite database (pglite/)",
    str('./.data', { expects: 'a directory path' }),
  ),
};

/** Where profiles live. */
export const profileStoreVars = {
  PROFILE_STORE: doc(
    'Store of user profiles: postgres (embedded and local default) or aerospike (production)',
    oneOf(['postgres', 'aerospike'] as const, 'postgres'),
  ),
  AEROSPIKE_HOSTS: doc(
    'Aerospike seed hosts (PROFILE_STORE=aerospike)',
    optionalStr({
      pattern: /^[A-Za-z0-9.-]+(:\d{1,5})?(,[A-Za-z0-9.-]+(:\d{1,5})?)*$/,
      expects: 'a comma-separated list of host[:port], or unset',
    }),
  ),
  AEROSPIKE_NAMESPACE: doc(
    'Aerospike namespace of profiles',
    str('test', { pattern: /^[A-Za-z0-9_-]{1,31}$/, expects: 'an Aerospike namespace' }),
  ),
  PROFILE_RETENTION_DAYS: doc(
    "Delete a cookie's profile once it has not been written for this many days (Aerospike: the record's TTL; PostgreSQL: an hourly delete); 0 keeps profiles forever",
    int(0, { min: 0, max: 36_500 }),
  ),
};

/** Cross-field rule of profileStoreVars, for the schemas' superRefine. */
export function checkProfileStore(
  c: { PROFILE_STORE: string; AEROSPIKE_HOSTS?: string },
  addIssue: (issue: { code: 'custom'; path: string[]; message: string }) => void,
): void {
  if (c.PROFILE_STORE === 'aerospike' && !c.AEROSPIKE_HOSTS) {
    addIssue({
      code: 'custom',
      path: ['AEROSPIKE_HOSTS'],
      message: 'a comma-separated list of host[:port] when PROFILE_STORE=aerospike',
    });
  }
}

/** A Kafka consumer group id with its default. */
export const groupId = (defaultId: string, what: string) =>
  doc(what, str(defaultId, { pattern: /^[A-Za-z0-9._-]{1,200}$/, expects: 'a consumer group id' }));
