/**
 * agg-producer as real processes on the real broker: a recorded stream gives the statistics an
 * independent batch computation gives, and SIGKILLing the process mid-stream and restarting it gives
 * exactly the output of an uninterrupted run (no window twice, none missing, same values).
 */
import { join } from 'node:path';
import { DeribitTrade, TradeStats, ewmaParamsOf } from '@lib/domain';
import { Kafka } from 'kafkajs';
import { testKafkaBrokers, uniqueName } from '../support/test-env';
import { AppProcess } from './support/app.process';
import { createTopics, produceTrades, readStats, recordedTrades, testKafka } from './support/kafka-io';
import { DEFAULT_INSTRUMENTS, expectedStats, sortStats, tradeStream } from './support/trades';

const MIN = 60_000;
const SPAN = 20;
const ALPHA = 2 / (SPAN + 1);
const PARAMS = ewmaParamsOf({ mode: 'span', span: SPAN });
const RECORDING = join(__dirname, '..', '..', 'apps', 'raw-producer', 'recordings', 'sample.ndjson');

interface Topics {
  trades: string;
  stats: string;
  state: string;
  group: string;
  clientId: string;
}

function freshTopics(prefix: string): Topics {
  return {
    trades: uniqueName(`${prefix}-trades`),
    stats: uniqueName(`${prefix}-stats`),
    state: uniqueName(`${prefix}-state`),
    group: uniqueName(`${prefix}-group`),
    clientId: uniqueName(`${prefix}-app`),
  };
}

function aggProducerEnv(t: Topics): Record<string, string> {
  return {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: testKafkaBrokers().join(','),
    KAFKA_CLIENT_ID: t.clientId,
    KAFKA_TOPIC_PARTITIONS: '3',
    TOPIC_DERIBIT_TRADES: t.trades,
    TOPIC_TRADE_STATS: t.stats,
    TOPIC_AGG_STATE: t.state,
    STATS_GROUP_ID: t.group,
    WINDOW_MINUTES: '1',
    WINDOW_GRACE_MS: '500',
    EWMA_MODE: 'span',
    EWMA_SPAN: String(SPAN),
    COMMIT_INTERVAL_MS: '200',
    IDLE_CHECK_INTERVAL_MS: '100',
    LOG_LEVEL: 'log',
  };
}

/** Statistics of windows starting before `untilMs` (later ones depend on how long the run lasted). */
const before = (stats: readonly TradeStats[], untilMs: number) =>
  sortStats(stats.filter((s) => s.window_start < untilMs));

async function waitForStats(kafka: Kafka, topic: string, untilMs: number, count: number, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await readStats(kafka, topic);
    if (stats.filter((s) => s.window_start < untilMs).length >= count) return stats;
    if (Date.now() > deadline)
      throw new Error(`${topic}: ${stats.length} statistics after ${timeoutMs} ms, expected ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Shifts a stream in time so that its last trade is 300 ms before a minute ends: its last windows close soon. */
function endingJustBeforeAMinute(trades: DeribitTrade[]): DeribitTrade[] {
  const last = trades[trades.length - 1].timestamp;
  const shift = Math.ceil(last / MIN) * MIN - 300 - last;
  return trades.map((t) => ({ ...t, timestamp: t.timestamp + shift }));
}

// The project's testTimeout does not reach tests run as a project; each run spawns several processes.
jest.setTimeout(240_000);

describe('agg-producer on Kafka', () => {
  const kafka = testKafka(testKafkaBrokers());
  const apps: AppProcess[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
  });

  async function start(label: string, t: Topics): Promise<AppProcess> {
    const app = await AppProcess.start('agg-producer', uniqueName(label), aggProducerEnv(t));
    apps.push(app);
    await app.ready();
    return app;
  }

  it('turns a recorded Deribit stream into the expected per-instrument window statistics', async () => {
    const t = freshTopics('recorded');
    const trades = recordedTrades(RECORDING);
    await createTopics(kafka, [t.trades], 3);
    await produceTrades(kafka, t.trades, trades);

    const app = await start('agg-recorded', t);
    const lastWindowEnd = Math.ceil((trades[trades.length - 1].timestamp + 1) / MIN) * MIN;
    const expected = expectedStats(trades, MIN, ALPHA, PARAMS, lastWindowEnd);
    // The last windows close by the idle check, a grace after the event clock passes their end.
    const published = await waitForStats(kafka, t.stats, lastWindowEnd, expected.length);
    await app.stop();

    expect(before(published, lastWindowEnd)).toEqual(sortStats(expected));
    expect(new Set(expected.map((s) => s.instrument)).size).toBe(5);
    const keys = published.map((s) => `${s.instrument}|${s.window_start}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('killed with SIGKILL mid-stream and restarted, publishes exactly what an uninterrupted run publishes', async () => {
    const trades = endingJustBeforeAMinute(
      tradeStream({
        startMs: Date.parse('2026-03-01T10:00:00Z'),
        count: 30_000,
        meanGapMs: 20,
        seed: 42,
        // A quiet instrument too: a trade every few minutes, so some of its windows are empty.
        instruments: [...DEFAULT_INSTRUMENTS, { name: 'ETH-27MAR26-4000-P', price: 0.08, weight: 0.003 }],
      }),
    );
    const lastWindowEnd = Math.ceil((trades[trades.length - 1].timestamp + 1) / MIN) * MIN;
    const expected = expectedStats(trades, MIN, ALPHA, PARAMS, lastWindowEnd);

    // Both runs read the same trades; each has its own group, changelog and output topic.
    const reference = freshTopics('whole');
    const crashed = { ...freshTopics('crashed'), trades: reference.trades };
    await createTopics(kafka, [reference.trades], 3);
    await produceTrades(kafka, reference.trades, trades);

    const whole = await start('agg-whole', reference);
    const uninterrupted = await waitForStats(kafka, reference.stats, lastWindowEnd, expected.length);
    await whole.stop();

    // Killed a third of the way through; the restart waits out the dead member's session (30 s).
    const doomed = await start('agg-crashed', crashed);
    const consumedAtKill = await doomed.waitForMetric(
      'agg_producer_trades_consumed_total',
      (n) => n >= trades.length / 3,
    );
    await doomed.kill();
    const survivor = await start('agg-crashed', crashed);
    const recovered = await waitForStats(kafka, crashed.stats, lastWindowEnd, expected.length);
    const redone = await survivor.metric('agg_producer_trades_consumed_total');
    await survivor.stop();

    expect(consumedAtKill).toBeLessThan(trades.length);
    expect(before(recovered, lastWindowEnd)).toEqual(before(uninterrupted, lastWindowEnd));
    expect(before(uninterrupted, lastWindowEnd)).toEqual(sortStats(expected));
    expect(expected.some((s) => s.count === 0)).toBe(true);
    const keys = recovered.map((s) => `${s.instrument}|${s.window_start}`);
    expect(new Set(keys).size).toBe(keys.length);
    // The survivor resumed from committed offsets, not from the beginning.
    expect(redone).toBeLessThan(trades.length);
  });
});
