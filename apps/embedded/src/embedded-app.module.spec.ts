import {
  aggProducerConfigSchema,
  gatewayConfigSchema,
  loadConfig,
  pipelineConfigSchema,
  rawProducerConfigSchema,
} from '@lib/config';
import { AggregateStore, ProfileStore, TradeStatsStore } from '@lib/domain';
import { InMemoryBroker, InProcessMessagingTransport } from '@lib/in-process-log';
import { MessagingRuntime } from '@lib/kafka-avro';
import { PersistenceLifecycle } from '@lib/persistence/persistence.readiness';
import { ModulesContainer } from '@nestjs/core';
import { Test, TestingModule } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { EmbeddedConfig } from './embedded.config';
import { embeddedAppModule, embeddedMessaging } from './embedded-app.module';

jest.setTimeout(30_000);

const config: EmbeddedConfig = {
  gateway: loadConfig('gateway', gatewayConfigSchema, {}),
  pipeline: loadConfig('pipeline', pipelineConfigSchema, {}),
  rawProducer: loadConfig('raw-producer', rawProducerConfigSchema, {}),
  aggProducer: loadConfig('agg-producer', aggProducerConfigSchema, {}),
};

describe('embedded composition root', () => {
  let moduleRef: TestingModule;
  const broker = new InMemoryBroker({ partitions: 4 });

  beforeAll(async () => {
    // The database is not what this checks: the graph of modules is.
    moduleRef = await Test.createTestingModule({ imports: [embeddedAppModule(config, broker)] })
      .overrideProvider(DataSource)
      .useValue({})
      .overrideProvider(ProfileStore)
      .useValue({})
      .overrideProvider(AggregateStore)
      .useValue({})
      .overrideProvider(TradeStatsStore)
      .useValue({})
      .overrideProvider(PersistenceLifecycle)
      .useValue({})
      .compile();
  });

  afterAll(async () => {
    await moduleRef?.close();
  });

  const count = (name: string) =>
    [...moduleRef.get(ModulesContainer).values()].filter((m) => m.metatype?.name === name).length;

  it('has platform, messaging and the schedule module once, and each of the four apps', () => {
    expect(
      Object.fromEntries(
        [
          'PlatformModule',
          'KafkaAvroModule',
          'ScheduleModule',
          'GatewayModule',
          'PipelineModule',
          'RawProducerModule',
          'AggProducerModule',
        ].map((name) => [name, count(name)]),
      ),
    ).toEqual({
      PlatformModule: 1,
      KafkaAvroModule: 1,
      ScheduleModule: 1,
      GatewayModule: 1,
      PipelineModule: 1,
      RawProducerModule: 1,
      AggProducerModule: 1,
    });
  });

  it('gives every app the one in-process transport, on the broker the root opened', () => {
    expect((moduleRef.get(MessagingRuntime).transport as InProcessMessagingTransport).broker).toBe(broker);
  });

  it("declares every topic any app uses, once, with agg-producer's changelog schema and transactional id", () => {
    const options = embeddedMessaging(config, broker);
    expect(options.topics?.map((t) => t.name).sort()).toEqual(
      ['agg-producer-state-changelog', 'deribit-trade-stats', 'deribit-trades', 'user-tags'].sort(),
    );
    expect(options.schemas?.current?.length).toBe(1);
    expect(options.transactionalId).toBe('agg-producer-tx');
  });
});
