/**
 * The raw-producer app, composed as main.ts composes it, against the fake Deribit, with an in-memory
 * publisher standing in for Kafka (raw-producer.int-spec.ts runs the same session against a real broker).
 */
import { INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig, rawProducerConfigSchema } from '@lib/config';
import { DeribitTrade, PublishedTrades } from '@lib/domain';
import { Marker, MessagePublisher, TopicSpec, tradeWatermarkTime } from '@lib/kafka-avro';
import { Metric } from 'prom-client';
import { rawProducerAppModule } from '../../apps/raw-producer/src/raw-producer-app.module';
import { RawProducerMetrics } from '../../apps/raw-producer/src/metrics/raw-producer.metrics';
import { CHAOS_EXPECTED, chaosEnv, INSTRUMENTS, playChaos } from './chaos.scenario';
import { FakeDeribitServer } from './fake-deribit.server';

class RecordingPublisher extends MessagePublisher {
  readonly written: { topic: string; key: string; value: DeribitTrade }[] = [];

  publish<T>(topic: TopicSpec<T>, values: readonly T[]): Promise<void> {
    for (const value of values)
      this.written.push({ topic: topic.name, key: topic.key(value), value: value as DeribitTrade });
    return Promise.resolve();
  }
  /** Watermarks written: instrument, time, and how many trades were written before it. */
  readonly watermarks: { key: string; time: number | undefined; after: number }[] = [];
  publishMarkers(_topic: TopicSpec<unknown>, markers: readonly Marker[]): Promise<void> {
    for (const m of markers)
      this.watermarks.push({ key: m.key, time: tradeWatermarkTime(m), after: this.written.length });
    return Promise.resolve();
  }
  isReady(): boolean {
    return true;
  }
}

/** The topic read back at start-up: what this run's publisher wrote (nothing, for a fresh start). */
class RecordedTrades extends PublishedTrades {
  constructor(private readonly publisher: MessagePublisher) {
    super();
  }
  tail(perPartition: number): Promise<DeribitTrade[]> {
    return Promise.resolve((this.publisher as RecordingPublisher).written.slice(-perPartition).map((m) => m.value));
  }
}

@Module({
  providers: [
    { provide: MessagePublisher, useClass: RecordingPublisher },
    {
      provide: PublishedTrades,
      inject: [MessagePublisher],
      useFactory: (p: MessagePublisher) => new RecordedTrades(p),
    },
  ],
  exports: [MessagePublisher, PublishedTrades],
})
class RecordingMessagingModule {}

jest.setTimeout(30_000);

async function value(metric: Metric, labels: Record<string, string> = {}): Promise<number> {
  const data = await metric.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('raw-producer app against a fake Deribit (in-memory publisher)', () => {
  let server: FakeDeribitServer;
  let app: INestApplicationContext | undefined;

  beforeEach(async () => {
    server = await FakeDeribitServer.start({ testRequestEveryMs: 100, testRequestTimeoutMs: 1_000 });
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    await server.stop();
  });

  it('writes every distinct trade once, in order per instrument, through drops, duplicates, gaps and garbage', async () => {
    const config = loadConfig('raw-producer', rawProducerConfigSchema, {
      ...chaosEnv(server),
      TOPIC_DERIBIT_TRADES: 'trades-e2e',
    });
    app = await NestFactory.createApplicationContext(
      rawProducerAppModule(config, { module: RecordingMessagingModule }),
      {
        logger: ['error'],
      },
    );
    await app.init();
    const publisher = app.get(MessagePublisher) as RecordingPublisher;
    const metrics = app.get(RawProducerMetrics);

    await playChaos(server, (what, ok) => expect([what, ok]).toEqual([what, true]));
    const expected = server.allTrades();
    await server.waitFor('every trade written', () => publisher.written.length >= expected.length, 20_000);
    await new Promise((r) => setTimeout(r, 300));

    expect(publisher.written).toHaveLength(expected.length);
    for (const instrument of INSTRUMENTS) {
      const got = publisher.written.filter((m) => m.value.instrument_name === instrument);
      expect(got.map((m) => m.value)).toEqual(server.trades(instrument));
      expect(new Set(got.map((m) => `${m.topic} ${m.key}`))).toEqual(new Set([`trades-e2e ${instrument}`]));
    }
    expect(server.connectionsAccepted).toBe(CHAOS_EXPECTED.connections);
    expect(await value(metrics.reconnects)).toBe(CHAOS_EXPECTED.connections - 1);
    expect(await value(metrics.rpcErrors, { code: '10028' })).toBe(1);
    expect(await value(metrics.rpcErrors, { code: '11050' })).toBe(1);
    // At least the re-sent ones: a catch-up's answer can also overlap the live feed (dropped the same way).
    expect(await value(metrics.duplicates)).toBeGreaterThanOrEqual(CHAOS_EXPECTED.duplicates);
    expect(await value(metrics.malformed, { what: 'frame' })).toBe(CHAOS_EXPECTED.malformedFrames);
    expect(await value(metrics.malformed, { what: 'trade' })).toBe(CHAOS_EXPECTED.malformedTrades);
    // A reconnection's catch-up may find the trades of two holes at once (see CHAOS_EXPECTED.gaps).
    expect(await value(metrics.gaps)).toBeGreaterThanOrEqual(CHAOS_EXPECTED.gaps - 1);
    expect(await value(metrics.gaps)).toBeLessThanOrEqual(CHAOS_EXPECTED.gaps);
    expect(await value(metrics.missing)).toBe(CHAOS_EXPECTED.missing);
    expect(await value(metrics.backfilled)).toBe(CHAOS_EXPECTED.missing);
    expect(await value(metrics.unrecovered)).toBe(0);
    expect(await value(metrics.produced)).toBe(expected.length);
    expect(await value(metrics.heartbeats)).toBeGreaterThanOrEqual(3);
    expect(server.requestsOf('public/set_heartbeat').map((r) => r.connection)).toEqual([1, 2, 3, 4]);
  });
});
