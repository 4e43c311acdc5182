import { AggregateStore, ProfileStore, TradeStatsStore } from '@lib/domain';
import { DynamicModule, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PgAggregateStore } from './aggregates/pg-aggregate.store';
import { PgTradeStatsStore } from './market/pg-trade-stats.store';
import { createDataSource } from './connection/data-source.factory';
import { PersistenceConfig } from './persistence.config';
import { PersistenceLifecycle } from './persistence.readiness';
import { AerospikeProfileStore } from './profiles/aerospike-profile.store';
import { PgProfileStore } from './profiles/pg-profile.store';

/** Aerospike's default namespace; production sets AEROSPIKE_NAMESPACE. */
const DEFAULT_AEROSPIKE_NAMESPACE = 'test';

/**
 * The storage adapters, bound to the domain ports:
 *
 * - `DataSource` (TypeORM, on `pg`): DATABASE_URL, or the embedded PGlite under DATA_DIR; migrated
 *   before anything uses it; closed at shutdown.
 * - `ProfileStore`: Aerospike when PROFILE_STORE=aerospike, else PostgreSQL.
 * - `AggregateStore`: PostgreSQL.
 *
 * Readiness checks `postgres` and `aerospike` go to the ReadinessRegistry of PlatformModule when it
 * is present. Import it in each app module that needs a store (gateway reads, pipeline writes);
 * apps in one process share one embedded database.
 */
@Module({})
export class PersistenceModule {
  static forRoot(config: PersistenceConfig): DynamicModule {
    return {
      module: PersistenceModule,
      providers: [
        { provide: DataSource, useFactory: () => createDataSource(config) },
        {
          provide: ProfileStore,
          inject: [DataSource],
          useFactory: (dataSource: DataSource): ProfileStore | Promise<ProfileStore> =>
            config.PROFILE_STORE === 'aerospike'
              ? AerospikeProfileStore.connect({
                  hosts: config.AEROSPIKE_HOSTS ?? '',
                  namespace: config.AEROSPIKE_NAMESPACE ?? DEFAULT_AEROSPIKE_NAMESPACE,
                  ttlSeconds: (config.PROFILE_RETENTION_DAYS ?? 0) * 86_400 || undefined,
                })
              : new PgProfileStore(dataSource),
        },
        {
          provide: AggregateStore,
          inject: [DataSource],
          useFactory: (dataSource: DataSource) => new PgAggregateStore(dataSource),
        },
        {
          provide: TradeStatsStore,
          inject: [DataSource],
          useFactory: (dataSource: DataSource) => new PgTradeStatsStore(dataSource),
        },
        PersistenceLifecycle,
      ],
      exports: [DataSource, ProfileStore, AggregateStore, TradeStatsStore],
    };
  }
}
