/**
 * raw-producer end to end against the real Kafka broker of the integration run: the app as main.ts
 * composes it (KafkaAvroModule on TRANSPORT=kafka), the fake Deribit playing the chaos session (three
 * drops incl. 10028 and a hang, duplicates, a gap, malformed frames, a JSON-RPC error). Every distinct trade
 * must be in the topic exactly once, in trade_seq order per instrument, on one partition per instrument.
 * A second test replays the shipped recording into the topic.
 */
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DeribitTrade } from '@lib/domain';
import { loadConfig, RawProducerConfig, rawProducerConfigSchema } from '@lib/config';
import { deribitTradesTopic, KafkaAvroModule, tradeGapOf } from '@lib/kafka-avro';
import { Metric, register } from 'prom-client';
import { RawProducerMetrics } from '../../apps/raw-producer/src/metrics/raw-producer.metrics';
import { rawProducerAppModule } from '../../apps/raw-producer/src/raw-producer-app.module';
import { TradeForwarder } from '../../apps/raw-producer/src/forwarder/trade-forwarder.service';
import { testKafkaBrokers, uniqueName } from '../support/test-env';
import { BTC, CHAOS_EXPECTED, chaosEnv, ETH, INSTRUMENTS, playChaos } from './chaos.scenario';
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

  it('asks again for a gap a back-fill could not fill: publishes what comes later, counts what never does', async () => {
    const server = await FakeDeribitServer.start({ testRequestEveryMs: 100, testRequestTimeoutMs: 1_000 });
    try {
      const { topic } = await startApp({
        ...chaosEnv(server),
        BACKFILL_TIMEOUT_MS: '300',
        BACKFILL_RETRY_FOR_MS: '6000',
      });
      const metrics = app!.get(RawProducerMetrics);
      await server.waitFor('the subscription', () => server.subscribedConnections === 1, 10_000);
      server.history = 'none';

      // ETH: the server never has the gap's trades: asked again, then counted unrecovered.
      const eth = [...server.trade(ETH, 2), ...server.trade(ETH, 4, { withhold: [1_002, 1_003] })];
      const deadline = Date.now() + 15_000;
      while ((await value(metrics.unrecovered)) < 2) {
        if (Date.now() > deadline) throw new Error('the ETH gap was not counted unrecovered in time');
        await new Promise((r) => setTimeout(r, 100));
      }
      const ethAsked = server
        .requestsOf('public/get_last_trades_by_instrument')
        .filter((r) => r.params.instrument_name === ETH).length;
      expect(ethAsked).toBeGreaterThan(1); // the first back-fill, then at least one later attempt

      // BTC: the server has them again a moment after the first back-fill failed: published late.
      const btc = [...server.trade(BTC, 2), ...server.trade(BTC, 4, { withhold: [1_002, 1_003] })];
      await new Promise((r) => setTimeout(r, 600));
      server.history = 'full';
      const expected = [...eth.filter((t) => t.trade_seq !== 1_002 && t.trade_seq !== 1_003), ...btc];
      const markers: { key: string; headers: Record<string, string> }[] = [];
      const received = await readTrades(testKafkaBrokers(), topic, expected.length, { markers });
      expect(received.map((m) => m.value.trade_id).sort()).toEqual(expected.map((t) => t.trade_id).sort());
      // The stats record learns of both gaps (gap markers after the trade that revealed each, at its time):
      // ETH's 2 never come back; BTC's 2 do, and a second marker takes them off again.
      const gapsOf = (instrument: string) =>
        markers.filter((m) => m.key === instrument).flatMap((m) => tradeGapOf(m) ?? []);
      const revealedAt = (trades: readonly DeribitTrade[]) => trades.find((t) => t.trade_seq === 1_004)!.timestamp;
      expect(gapsOf(ETH)).toEqual([{ time: revealedAt(eth), count: 2 }]);
      expect(gapsOf(BTC)).toEqual([
        { time: revealedAt(btc), count: 2 },
        { time: revealedAt(btc), count: -2 },
      ]);
      const btcOrder = received.filter((m) => m.value.instrument_name === BTC).map((m) => m.value.trade_seq);
      expect(btcOrder).toEqual([1_000, 1_001, 1_004, 1_005, 1_002, 1_003]); // recovered late, after newer ones
      expect(await value(metrics.unrecovered)).toBe(2);
      expect(await value(metrics.backfilled)).toBe(2);
      expect(await value(metrics.backfillPending)).toBe(0);
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
