/**
 * raw-producer end to end against the real Kafka broker of the integration run: the app as main.ts
 * composes it (KafkaAvroModule on TRANSPORT=kafka), the fake Deribit playing the chaos session (three
 * drops incl. 10028 and a hang, duplicates, a gap, malformed frames, a JSON-RPC error). Every distinct trade
 * must be in the topic exactly once, in trade_seq order per instrument, on one partition per instrument.
 * A second test replays the shipped recording into the topic.
 */
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig, RawProducerConfig, rawProducerConfigSchema } from '@lib/config';
import { deribitTradesTopic, KafkaAvroModule } from '@lib/kafka-avro';
import { Metric, register } from 'prom-client';
import { RawProducerMetrics } from '../../apps/raw-producer/src/metrics/raw-producer.metrics';
import { rawProducerAppModule } from '../../apps/raw-producer/src/raw-producer-app.module';
import { TradeForwarder } from '../../apps/raw-producer/src/forwarder/trade-forwarder.service';
import { testKafkaBrokers, uniqueName } from '../support/test-env';
import { CHAOS_EXPECTED, chaosEnv, INSTRUMENTS, playChaos } from './chaos.scenario';
import { FakeDeribitServer } from './fake-deribit.server';
import { readTrades } from './kafka-trades.reader';

// The integration project's testTimeout does not reach the tests (Jest reads it as a global option only).
jest.setTimeout(90_000);

async function value(metric: Metric, labels: Record<string, string> = {}): Promise<number> {
  const data = await metric.get();
  return data.values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('raw-producer into a real Kafka broker', () => {
  let app: INestApplicationContext | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    // PlatformModule registers the default metrics on the global registry, once per process.
    register.clear();
  });

  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });

  /** Starts the app on a fresh topic (created by the messaging module at start-up). */
  async function startApp(env: Record<string, string>): Promise<{ topic: string; config: RawProducerConfig }> {
    const topic = uniqueName('deribit-trades');
    const config = loadConfig('raw-producer', rawProducerConfigSchema, {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      KAFKA_TOPIC_PARTITIONS: '3',
      TOPIC_DERIBIT_TRADES: topic,
      ...env,
    });
    const messaging = KafkaAvroModule.forRoot({
      app: 'raw-producer',
      config,
      topics: [deribitTradesTopic(config.TOPIC_DERIBIT_TRADES)],
    });
    app = await NestFactory.createApplicationContext(rawProducerAppModule(config, messaging), { logger: ['error'] });
    await app.init();
    return { topic, config };
  }

  it('writes every distinct trade exactly once, in order per instrument, through drops, duplicates, gaps and garbage', async () => {
    const server = await FakeDeribitServer.start({ testRequestEveryMs: 100, testRequestTimeoutMs: 1_000 });
    try {
      const { topic } = await startApp(chaosEnv(server));
      const metrics = app!.get(RawProducerMetrics);
      await playChaos(server, (what, ok) => expect([what, ok]).toEqual([what, true]));
      const expected = server.allTrades();

      const received = await readTrades(testKafkaBrokers(), topic, expected.length);

      expect(received).toHaveLength(expected.length);
      expect(new Set(received.map((m) => m.value.trade_id)).size).toBe(expected.length);
      for (const instrument of INSTRUMENTS) {
        const got = received.filter((m) => m.value.instrument_name === instrument);
        expect(got.map((m) => m.value)).toEqual(server.trades(instrument));
        expect(new Set(got.map((m) => m.key))).toEqual(new Set([instrument]));
        expect(new Set(got.map((m) => m.partition)).size).toBe(1);
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
      expect(await value(metrics.backfilled)).toBe(CHAOS_EXPECTED.missing);
      expect(await value(metrics.unrecovered)).toBe(0);
      expect(await value(metrics.produced)).toBe(expected.length);
      expect(server.testRequestsAnswered).toBeGreaterThanOrEqual(3);
      expect(unhandled).toEqual([]);
    } finally {
      await app?.close();
      app = undefined;
      await server.stop();
    }
  });

  it('replays the shipped recording into the topic, in order per instrument', async () => {
    const { topic } = await startApp({ TRADE_SOURCE: 'replay', REPLAY_SPEED: '1000000', REPLAY_LOOP: 'false' });
    const forwarder = app!.get(TradeForwarder);
    const metrics = app!.get(RawProducerMetrics);
    const received = await readTrades(testKafkaBrokers(), topic, 300, { settleMs: 1_000 });
    const produced = await value(metrics.produced);
    expect(received).toHaveLength(produced);
    expect(forwarder.buffered).toBe(0);
    for (const instrument of new Set(received.map((m) => m.value.instrument_name))) {
      const seqs = received.filter((m) => m.value.instrument_name === instrument).map((m) => m.value.trade_seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
    }
  });
});
