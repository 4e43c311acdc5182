/**
 * The Nest wiring: PersistenceModule binds the ports to the PostgreSQL adapters, registers the
 * `postgres` readiness check (once, however many app modules import it) and closes at shutdown.
 */
import { AggregateStore, ProfileStore } from '@lib/domain';
import { ReadinessRegistry } from '@lib/platform';
import { Global, INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '../../../test/support/test-env';
import { PgAggregateStore } from './aggregates/pg-aggregate.store';
import { PersistenceConfig } from './persistence.config';
import { PersistenceModule } from './persistence.module';
import { PgProfileStore } from './profiles/pg-profile.store';

jest.setTimeout(60_000);

@Global()
@Module({ providers: [ReadinessRegistry], exports: [ReadinessRegistry] })
class FakePlatformModule {}

describe('PersistenceModule', () => {
  let db: TestDatabase;
  let app: INestApplicationContext;

  beforeAll(async () => {
    db = await createTestDatabase('module');
    const config: PersistenceConfig = {
      DATABASE_URL: db.url,
      DATABASE_POOL_SIZE: 2,
      DATA_DIR: '/nonexistent',
      PROFILE_STORE: 'postgres',
    };
    // Two app modules importing it, as gateway and pipeline do in one process.
    @Module({ imports: [PersistenceModule.forRoot(config)] })
    class ReaderModule {}
    @Module({ imports: [PersistenceModule.forRoot({ ...config, DATABASE_POOL_SIZE: 3 })] })
    class WriterModule {}
    @Module({ imports: [FakePlatformModule, ReaderModule, WriterModule] })
    class AppModule {}
    app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('binds the ports to the PostgreSQL adapters on a migrated DataSource', async () => {
    expect(app.get(ProfileStore, { strict: false })).toBeInstanceOf(PgProfileStore);
    expect(app.get(AggregateStore, { strict: false })).toBeInstanceOf(PgAggregateStore);
    const dataSource = app.get(DataSource, { strict: false });
    expect(dataSource.isInitialized).toBe(true);
    expect(await dataSource.query('SELECT count(*)::int AS n FROM minute_cube')).toEqual([{ n: 0 }]);
  });

  it('registers one passing postgres readiness check', async () => {
    const checks = app.get(ReadinessRegistry).entries();
    expect(checks.map(([name]) => name)).toEqual(['postgres']);
    await expect(Promise.resolve(checks[0][1]())).resolves.toBeUndefined();
  });

  it('closes its DataSources when the application shuts down', async () => {
    const dataSource = app.get(DataSource, { strict: false });
    await app.close();
    expect(dataSource.isInitialized).toBe(false);
  });
});
