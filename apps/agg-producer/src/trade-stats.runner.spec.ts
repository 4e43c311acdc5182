import { aggProducerConfigSchema, AggProducerConfig, loadConfig } from '@lib/config';
import { DeribitTrade, FixedClock, TradeStats } from '@lib/domain';
import { Logger } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { Registry } from 'prom-client';
import {
  InMemoryBroker,
  InMemoryTopicReader,
  InMemoryTransactionalPublisher,
  ScriptedConsumer,
} from '../../../test/agg-producer/support/in-memory-messaging';
import { expectedStats, sortStats, tradeStream } from '../../../test/agg-producer/support/trades';
import { AggProducerMetrics } from './agg-producer.metrics';
import { AggProducerTopics, aggProducerTopics } from './agg-producer.topics';
import { TradeStatsProcessor } from './trade-stats.processor';
import { TradeStatsRunner } from './trade-stats.runner';
import { tradeWindowRulesOf } from './trade-window-rules';

const MIN = 60_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');

const config: AggProducerConfig = loadConfig('agg-producer', aggProducerConfigSchema, {
  WINDOW_MINUTES: '1',
  WINDOW_GRACE_MS: '1000',
  EWMA_MODE: 'span',
  EWMA_SPAN: '9',
  COMMIT_INTERVAL_MS: '60000',
  IDLE_CHECK_INTERVAL_MS: '10',
});
const topics: AggProducerTopics = aggProducerTopics(config);

/** One agg-producer instance over the shared in-memory broker; a new one after a "crash" shares nothing else. */
function instance(broker: InMemoryBroker, clock = new FixedClock(T0)) {
  const consumer = new ScriptedConsumer(broker);
  const metrics = new AggProducerMetrics(new Registry());
  const scheduler = new SchedulerRegistry();
  const runner = new TradeStatsRunner(
    config,
    new TradeStatsProcessor(tradeWindowRulesOf(config)),
    topics,
    consumer,
    new InMemoryTransactionalPublisher(broker),
    new InMemoryTopicReader(broker),
    clock,
    metrics,
    scheduler,
  );
  const started = async () => {
    runner.onApplicationBootstrap();
    await waitFor(() => consumer.running);
  };
  /** Stops timers only, as a crash would: nothing pending is committed. */
  const crash = () => scheduler.getIntervals().forEach((name) => scheduler.deleteInterval(name));
  return { runner, consumer, metrics, clock, started, crash };
}

async function waitFor(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const metricValue = async (metrics: AggProducerMetrics, counter: keyof AggProducerMetrics, labels = {}) => {
  const data = await (metrics[counter] as { get(): Promise<{ values: { value: number; labels: object }[] }> }).get();
  return data.values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value ?? 0;
};

describe('TradeStatsRunner (in-memory transport)', () => {
  const trades = tradeStream({ startMs: T0, count: 3_000, meanGapMs: 200, seed: 7 });
  const lastTrade = trades[trades.length - 1].timestamp;
  const rules = tradeWindowRulesOf(config);
  /** Windows the stream closes by event time alone: those ending by each instrument's last trade - grace. */
  const closedByEventTime = (stats: readonly TradeStats[]) =>
    stats.filter(
      (s) =>
        s.window_end <=
        Math.max(...trades.filter((t) => t.instrument_name === s.instrument).map((t) => t.timestamp)) - 1_000,
    );

  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });

  afterAll(() => jest.restoreAllMocks());

  it('publishes the statistics a batch computation gives, and commits every offset', async () => {
    const broker = new InMemoryBroker();
    broker.append(topics.trades, trades);
    const app = instance(broker);
    await app.started();
    await app.consumer.deliver(250);
    await app.runner.onModuleDestroy();

    const published = broker.values<TradeStats>(topics.stats.name);
    const expected = expectedStats(trades, MIN, 2 / 10, rules.ewmaParams, T0 + 20 * MIN);
    expect(sortStats(closedByEventTime(published))).toEqual(sortStats(closedByEventTime(expected)));
    expect(broker.groupOffsets.get(config.STATS_GROUP_ID)).toEqual(
      new Map([[`${topics.trades.name}/0`, String(trades.length)]]),
    );
    expect(await metricValue(app.metrics, 'tradesConsumed')).toBe(trades.length);
    expect(await metricValue(app.metrics, 'windowsPublished', { reason: 'event-time' })).toBe(published.length);
  });

  it('after a crash, a restart from the changelog publishes exactly what an uninterrupted run does', async () => {
    const reference = new InMemoryBroker();
    reference.append(topics.trades, trades);
    const uninterrupted = instance(reference);
    await uninterrupted.started();
    await uninterrupted.consumer.deliver(97);
    uninterrupted.crash();

    const broker = new InMemoryBroker();
    broker.append(topics.trades, trades.slice(0, 1_700));
    const first = instance(broker);
    await first.started();
    await first.consumer.deliver(97);
    first.crash();
    const committed = Number(broker.groupOffsets.get(config.STATS_GROUP_ID)?.get(`${topics.trades.name}/0`));
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(1_700);

    // The crashed run's last batches (after its last window close) were never committed: redone.
    broker.append(topics.trades, trades.slice(1_700));
    const second = instance(broker);
    await second.started();
    await second.consumer.deliver(97);
    second.crash();

    // The idle check may interleave instruments differently; each instrument's windows are in order.
    const published = broker.values<TradeStats>(topics.stats.name);
    expect(sortStats(published)).toEqual(sortStats(reference.values<TradeStats>(topics.stats.name)));
    expect(new Set(published.map(topics.stats.key)).size).toBe(published.length);
    expect(published.length).toBeGreaterThan(20);
  });

  it('rebuilds from the changelog after a failed transaction, without duplicates or gaps', async () => {
    const more = tradeStream({ startMs: lastTrade + 1, count: 500, meanGapMs: 100, seed: 8, continues: trades });
    const reference = new InMemoryBroker();
    reference.append(topics.trades, [...trades, ...more]);
    const uninterrupted = instance(reference);
    await uninterrupted.started();
    await uninterrupted.consumer.deliver(100);
    await uninterrupted.runner.onModuleDestroy();

    const broker = new InMemoryBroker();
    broker.append(topics.trades, trades);
    const app = instance(broker);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    await app.started();
    await app.consumer.deliver(100);
    expect(app.consumer.starts).toBe(1);

    broker.append(topics.trades, more);
    broker.failCommits = 1;
    // Batches go on while a transaction is in flight: the failure reaches a later batch, or none.
    await app.consumer.deliver(100).catch((err: Error) => expect(err.message).toMatch(/rebuilding its state/));
    await waitFor(() => app.consumer.starts === 2 && app.consumer.running);
    await app.consumer.deliver(100);
    await app.runner.onModuleDestroy();

    const published = broker.values<TradeStats>(topics.stats.name);
    expect(sortStats(published)).toEqual(sortStats(reference.values<TradeStats>(topics.stats.name)));
    expect(new Set(published.map(topics.stats.key)).size).toBe(published.length);
    expect(await metricValue(app.metrics, 'failures', { stage: 'transaction' })).toBe(1);
  });

  it('publishes a revision of a window a late trade is in time for, the trade counted in', async () => {
    const broker = new InMemoryBroker();
    // A new trade (its own trade_seq: not a duplicate) dated inside a window already published.
    const late: DeribitTrade = { ...trades[0], trade_id: 'late-1', trade_seq: 1_000_000, timestamp: T0 + 30_000 };
    broker.append(topics.trades, [...trades.slice(0, 2_000), late]);
    const app = instance(broker);
    await app.started();
    await app.consumer.deliver(500);
    await app.runner.onModuleDestroy();

    const ofWindow = broker
      .values<TradeStats>(topics.stats.name)
      .filter((s) => s.instrument === late.instrument_name && s.window_start === T0);
    expect(ofWindow.map((s) => s.revision)).toEqual([0, 1]);
    const [first, revised] = ofWindow;
    expect(revised.count).toBe(first.count + 1);
    expect(revised.volume).toBeCloseTo(first.volume + late.amount, 9);
    expect(revised.ewma).toBe(first.ewma);
    expect(await metricValue(app.metrics, 'lateTrades')).toBe(0);
    expect(await metricValue(app.metrics, 'windowsPublished', { reason: 'revision' })).toBe(1);
  });

  it('counts and logs late trades past the kept windows with topic, partition and offset', async () => {
    const broker = new InMemoryBroker();
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    // A new trade (its own trade_seq: not a duplicate) dated before every window kept for revisions.
    const late: DeribitTrade = {
      ...trades[0],
      trade_id: 'late-1',
      trade_seq: 1_000_000,
      timestamp: T0 - (config.REVISION_WINDOWS + 1) * MIN,
    };
    broker.append(topics.trades, [...trades.slice(0, 2_000), late]);
    const app = instance(broker);
    await app.started();
    await app.consumer.deliver(500);
    await app.runner.onModuleDestroy();

    expect(await metricValue(app.metrics, 'lateTrades')).toBe(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(`late trade BTC-PERPETUAL trade_id=late-1`));
    expect(warn).toHaveBeenCalledWith(expect.stringContaining(`(${topics.trades.name}/0@2000)`));
  });

  it('the scheduled idle check closes a quiet stream and commits at once', async () => {
    const broker = new InMemoryBroker();
    broker.append(topics.trades, trades.slice(0, 100));
    const clock = new FixedClock(T0);
    const app = instance(broker, clock);
    await app.started();
    await app.consumer.deliver();
    const before = broker.values(topics.stats.name).length;
    const partitionTime = trades[99].timestamp;

    // Wall time passes past the end + grace of the last open windows: the interval (10 ms) closes them.
    clock.advance(Math.ceil((partitionTime + 1) / MIN) * MIN + 1_000 - partitionTime);
    await waitFor(() => broker.values(topics.stats.name).length > before);
    const idle = broker.values<TradeStats>(topics.stats.name).slice(before);
    expect(new Set(idle.map((s) => s.window_end))).toEqual(new Set([Math.ceil((partitionTime + 1) / MIN) * MIN]));
    expect(await metricValue(app.metrics, 'windowsPublished', { reason: 'idle' })).toBe(idle.length);
    app.crash();
  });
});
