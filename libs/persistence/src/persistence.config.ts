/**
 * What libs/persistence reads from an app's validated config. GatewayConfig and PipelineConfig both
 * satisfy it, so an app passes its whole config object.
 */
export interface DatabaseConfig {
  /** A PostgreSQL server; when unset, PGlite persisted under DATA_DIR serves the same SQL. */
  readonly DATABASE_URL?: string;
  readonly DATABASE_POOL_SIZE: number;
  /** Server only: a read's (and a pool wait's) bound; default 5,000. Not on the embedded PGlite. */
  readonly DATABASE_QUERY_TIMEOUT_MS?: number;
  /** Server only: a write statement's bound; default 60,000. Not on the embedded PGlite. */
  readonly DATABASE_WRITE_TIMEOUT_MS?: number;
  readonly DATA_DIR: string;
}

export interface PersistenceConfig extends DatabaseConfig {
  readonly PROFILE_STORE: 'postgres' | 'aerospike';
  /** `host[:port],...`; required when PROFILE_STORE is aerospike (the config schema checks it). */
  readonly AEROSPIKE_HOSTS?: string;
  readonly AEROSPIKE_NAMESPACE?: string;
  /** Days a profile is kept after its last write; 0 or unset: forever. */
  readonly PROFILE_RETENTION_DAYS?: number;
}
