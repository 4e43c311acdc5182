/**
 * The market-data pipeline end to end on the real broker, as separate processes (fake Deribit ->
 * raw-producer -> Kafka -> agg-producer -> Kafka), through an outage of the source: the exchange is out
 * of reach for 10 s across a minute boundary while trading goes on, with the default grace (2 s). The
 * trades made meanwhile reach the topic only after the reconnection (raw-producer catches every
 * instrument up), long after their window's end plus grace by the wall clock. The source's watermarks
 * hold the windows open until then, so every window equals the ground truth computed from the
 * exchange's own log, and no trade is late.
 */
import { ewmaParamsOf } from '@lib/domain';
import { testKafkaBrokers, uniqueName } from '../support/test-env';
import { BTC, CHANNELS, chaosEnv, ETH, OPTION } from '../raw-producer/chaos.scenario';
import { FakeDeribitServer } from '../raw-producer/fake-deribit.server';
import { AppProcess } from './support/app.process';
import { createTopics, readStats, testKafka } from './support/kafka-io';
import { expectedStats, sortStats } from './support/trades';

const MIN = 60_000;
const SPAN = 20;
const ALPHA = 2 / (SPAN + 1);
const PARAMS = ewmaParamsOf({ mode: 'span', span: SPAN });
const OUTAGE_MS = 10_000;

// Up to a minute waiting for the boundary, then ~25 s of trading and the outage.
jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('source outage across a minute boundary (real Kafka, default grace)', () => {
  const kafka = testKafka(testKafkaBrokers());
  const apps: AppProcess[] = [];
  let server: FakeDeribitServer | undefined;

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await server?.stop();
  });

  it('gives every window as the ground truth: the watermark waits for the trades made during the outage', async () => {
    server = await FakeDeribitServer.start({ realTime: true, testRequestEveryMs: 100, testRequestTimeoutMs: 1_000 });
    const exchange = server;
    const topics = { trades: uniqueName('outage-trades'), stats: uniqueName('outage-stats') };
    await createTopics(kafka, [topics.trades], 3);
    const kafkaEnv = { TRANSPORT: 'kafka', KAFKA_BROKERS: testKafkaBrokers().join(','), KAFKA_TOPIC_PARTITIONS: '3' };

    const agg = await AppProcess.start('agg-producer', uniqueName('agg-outage'), {
      ...kafkaEnv,
      KAFKA_CLIENT_ID: uniqueName('agg-outage'),
      TOPIC_DERIBIT_TRADES: topics.trades,
      TOPIC_TRADE_STATS: topics.stats,
      TOPIC_AGG_STATE: uniqueName('outage-state'),
      STATS_GROUP_ID: uniqueName('outage-group'),
      WINDOW_MINUTES: '1',
      EWMA_MODE: 'span',
      EWMA_SPAN: String(SPAN),
    });
    apps.push(agg);
    const raw = await AppProcess.start('raw-producer', uniqueName('raw-outage'), {
      ...kafkaEnv,
      ...chaosEnv(exchange),
      KAFKA_CLIENT_ID: uniqueName('raw-outage'),
      TOPIC_DERIBIT_TRADES: topics.trades,
    });
    apps.push(raw);
    await Promise.all([agg.ready(), raw.ready()]);
    await exchange.waitFor('the subscription', () => exchange.subscribedConnections === 1, 30_000);
    expect(exchange.requestsOf('public/subscribe')[0]?.params.channels).toEqual(CHANNELS);

    // BTC trades all the time, ETH every other tick, the option now and then (quiet at the boundary).
    let tick = 0;
    const tradeUntil = async (until: number): Promise<void> => {
      while (Date.now() < until) {
        exchange.trade(BTC, 2);
        if (tick % 2 === 0) exchange.trade(ETH, 1);
        if (tick % 16 === 0) exchange.trade(OPTION, 1);
        tick += 1;
        await sleep(200);
      }
    };

    // The outage runs from 5 s before a minute boundary to 5 s after it, after at least 10 s of trading.
    let boundary = Math.ceil(Date.now() / MIN) * MIN;
    if (boundary - Date.now() < 15_000) boundary += MIN;
    await tradeUntil(boundary - OUTAGE_MS / 2);
    exchange.refuseConnections(true);
    exchange.dropAll();
    await tradeUntil(boundary + OUTAGE_MS / 2);
    exchange.refuseConnections(false);
    await exchange.waitFor('the resubscription', () => exchange.subscribedConnections === 1, 30_000);
    await tradeUntil(boundary + OUTAGE_MS / 2 + 3_000);

    // Trades of the outage's first half are in the window that ends at the boundary.
    const made = exchange.allTrades();
    const inOutage = made.filter((t) => t.timestamp >= boundary - OUTAGE_MS / 2 && t.timestamp < boundary);
    expect([...new Set(inOutage.map((t) => t.instrument_name))]).toEqual(expect.arrayContaining([BTC, ETH]));

    const expected = sortStats(expectedStats(made, MIN, ALPHA, PARAMS, boundary));
    const deadline = Date.now() + 60_000;
    let published = await readStats(kafka, topics.stats);
    while (published.filter((s) => s.window_start < boundary).length < expected.length && Date.now() < deadline) {
      await sleep(500);
      published = await readStats(kafka, topics.stats);
    }
    expect(sortStats(published.filter((s) => s.window_start < boundary))).toEqual(expected);
    expect(await agg.metric('agg_producer_late_trades_total')).toBe(0);
    expect(await raw.metric('deribit_trade_seq_gaps_total')).toBeGreaterThanOrEqual(2); // caught up: BTC, ETH
    expect(await raw.waitForMetric('deribit_trades_produced_total', (n) => n >= made.length)).toBe(made.length);
    const keys = published.map((s) => `${s.instrument}|${s.window_start}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
