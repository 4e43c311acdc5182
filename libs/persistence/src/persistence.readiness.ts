import { ProfileStore } from '@lib/domain';
import { ReadinessRegistry } from '@lib/platform';
import { Injectable, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { closeDataSource } from './connection/data-source.factory';
import { poolOf, within } from './connection/sql-pool';
import { AerospikeProfileStore } from './profiles/aerospike-profile.store';

/** A readiness probe must answer within a few seconds whatever the database does. */
const CHECK_TIMEOUT_MS = 1_000;

/**
 * Registers the `postgres` (and, with the Aerospike profile store, `aerospike`) readiness checks,
 * and closes the connections after the app's consumers and servers have stopped.
 *
 * In the embedded mode several apps of one process import PersistenceModule; the first to
 * register a check's name owns it (they all reach the same database).
 */
@Injectable()
export class PersistenceLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly dataSource: DataSource,
    private readonly profiles: ProfileStore,
    @Optional() private readonly readiness?: ReadinessRegistry,
  ) {}

  onModuleInit(): void {
    const pool = poolOf(this.dataSource);
    this.register('postgres', async () => {
      await within(CHECK_TIMEOUT_MS, 'PostgreSQL', () => pool.query('SELECT 1'));
    });
    const profiles = this.profiles;
    if (profiles instanceof AerospikeProfileStore) {
      this.register('aerospike', () => {
        if (!profiles.isConnected()) throw new Error('no connection to any Aerospike node');
      });
    }
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.profiles instanceof AerospikeProfileStore) this.profiles.close();
    await closeDataSource(this.dataSource);
  }

  private register(name: string, check: () => Promise<void> | void): void {
    if (!this.readiness || this.readiness.entries().some(([registered]) => registered === name)) return;
    this.readiness.register(name, check);
  }
}
