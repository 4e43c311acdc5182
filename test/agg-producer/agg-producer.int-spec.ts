/**
 * agg-producer as real processes on the real broker: a recorded stream gives the statistics an
 * independent batch computation gives, and SIGKILLing the process mid-stream and restarting it gives
 * exactly the output of an uninterrupted run (no window twice, none missing, same values).
 */
import { join } from 'node:path';
import { DeribitTrade, TradeStats, ewmaParamsOf } from '@lib/domain';
import { Kafka, Partitioners } from 'kafkajs';
import { testKafkaBrokers, uniqueName } from '../support/test-env';
import { AppProcess } from './support/app.process';
import {
  createTopics,
  produceGapMarkers,
  produceTrades,
  readStats,
  recordedTrades,
  testKafka,
  waitForCommitted,
} from './support/kafka-io';
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

function aggProducerEnv(t: Topics, partitions: number): Record<string, string> {
  return {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: testKafkaBrokers().join(','),
    KAFKA_CLIENT_ID: t.clientId,
    KAFKA_TOPIC_PARTITIONS: String(partitions),
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

/** `count` trades of BTC-PERPETUAL alone from 2026-03-01T10:00Z, ~100 ms apart (seeded). */
const btcTrades = (count: number, seed: number): DeribitTrade[] =>
  tradeStream({
    startMs: Date.parse('2026-03-01T10:00:00Z'),
    count,
    meanGapMs: 100,
    seed,
    instruments: [{ name: 'BTC-PERPETUAL', price: 64_000, weight: 1 }],
  });

/** The published versions of one window, by revision, once there are `count` (or what there is after 30 s). */
async function waitForVersions(
  kafka: Kafka,
  topic: string,
  instrument: string,
  windowStart: number,
  count: number,
): Promise<TradeStats[]> {
  const versionsOf = async () =>
    (await readStats(kafka, topic))
      .filter((s) => s.instrument === instrument && s.window_start === windowStart)
      .sort((a, b) => a.revision - b.revision);
  const deadline = Date.now() + 30_000;
  let versions = await versionsOf();
  while (versions.length < count && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    versions = await versionsOf();
  }
  return versions;
}

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

/**
 * The end of the windows every instrument's partition has closed once all trades are read: the oldest,
 * over partitions, of the partition's newest trade time less the grace, floored to a window.
 */
function settledUntil(trades: readonly DeribitTrade[], partitions: number, graceMs: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const metadata = Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  const newest = new Map<number, number>();
  for (const t of trades) {
    const p = partitioner({
      topic: 't',
      partitionMetadata: metadata,
      message: { key: t.instrument_name, value: null },
    });
    newest.set(p, Math.max(newest.get(p) ?? 0, t.timestamp));
  }
  return Math.floor((Math.min(...newest.values()) - graceMs) / MIN) * MIN;
}

// The project's testTimeout does not reach tests run as a project; each run spawns several processes.
jest.setTimeout(240_000);

describe('agg-producer on Kafka', () => {
  const kafka = testKafka(testKafkaBrokers());
  const apps: AppProcess[] = [];

  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
  });

  /** agg-producer on topics `t`; the topics it creates (the trades topic first) get `partitions`. */
  async function start(label: string, t: Topics, partitions = 3): Promise<AppProcess> {
    const app = await AppProcess.start('agg-producer', uniqueName(label), aggProducerEnv(t, partitions));
    apps.push(app);
    await app.ready();
    return app;
  }

  it('turns a recorded Deribit stream, replayed by raw-producer, into the expected per-instrument window statistics', async () => {
    const t = freshTopics('recorded');
    const trades = recordedTrades(RECORDING);
    // One partition: every instrument shares the event clock that closes the last windows of quiet ones.
    const app = await start('agg-recorded', t, 1);

    const raw = await AppProcess.start('raw-producer', uniqueName('raw-recorded'), {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      KAFKA_CLIENT_ID: uniqueName('raw-recorded'),
      TOPIC_DERIBIT_TRADES: t.trades,
      TRADE_SOURCE: 'replay',
      REPLAY_FILE: RECORDING,
      REPLAY_SPEED: '1000000',
      REPLAY_LOOP: 'false',
    });
    apps.push(raw);
    await raw.ready();
    await raw.waitForMetric('deribit_trades_produced_total', (n) => n >= trades.length);
    await raw.stop();

    const lastWindowEnd = Math.ceil((trades[trades.length - 1].timestamp + 1) / MIN) * MIN;
    const expected = expectedStats(trades, MIN, ALPHA, PARAMS, lastWindowEnd);
    // The last windows close by the idle check, a grace after the event clock passes their end.
    const published = await waitForStats(kafka, t.stats, lastWindowEnd, expected.length);
    expect(await app.metric('agg_producer_trades_consumed_total')).toBe(trades.length);
    expect(await app.metric('agg_producer_late_trades_total')).toBe(0);
    await app.stop();

    expect(before(published, lastWindowEnd)).toEqual(sortStats(expected));
    expect(new Set(expected.map((s) => s.instrument)).size).toBe(5);
    const keys = published.map((s) => `${s.instrument}|${s.window_start}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('killed with SIGKILL mid-stream and restarted, with trades published twice, publishes exactly what an uninterrupted run publishes', async () => {
    const trades = tradeStream({
      startMs: Date.parse('2026-03-01T10:00:00Z'),
      count: 30_000,
      meanGapMs: 20,
      seed: 42,
      // A quiet instrument too: a trade every few minutes, so some of its windows are empty.
      instruments: [...DEFAULT_INSTRUMENTS, { name: 'ETH-27MAR26-4000-P', price: 0.08, weight: 0.003 }],
    });
    // Windows that close as soon as every partition has been read: a quiet instrument's last windows wait
    // for its partition's event clock (its newest trade plus wall time), so the comparison stops before.
    const until = settledUntil(trades, 3, 500);
    const expected = expectedStats(trades, MIN, ALPHA, PARAMS, until);

    // Same trades, same partitions, separate topics: the crashed run's input is written while it runs.
    const reference = freshTopics('whole');
    const crashed = freshTopics('crashed');
    await createTopics(kafka, [reference.trades, crashed.trades], 3);
    await produceTrades(kafka, reference.trades, trades);

    const whole = await start('agg-whole', reference);
    const uninterrupted = await waitForStats(kafka, reference.stats, until, expected.length);
    await whole.stop();

    // The first 40 % is read and committed; the kill comes as soon as the rest starts coming in (written
    // in small requests, so it keeps coming for a while): committed state behind, work in progress lost,
    // most of the input ahead. The restart waits out the dead member's session (30 s).
    const firstPart = Math.floor(trades.length * 0.4);
    await produceTrades(kafka, crashed.trades, trades.slice(0, firstPart));
    const doomed = await start('agg-crashed', crashed);
    await doomed.waitForMetric('agg_producer_trades_consumed_total', (n) => n >= firstPart);
    // Committed, not only read: a transaction may be retried (CONCURRENT_TRANSACTIONS while the coordinator
    // still writes the previous one's markers, on a loaded machine), and the kill must find it done.
    await waitForCommitted(kafka, crashed.group, crashed.trades, firstPart);
    await doomed.waitForMetric('agg_producer_windows_published_total', (n) => n > 0);
    // The rest comes with duplicates, as raw-producer may write them (a publish retry): again the last
    // trades before the kill, which the survivor knows only from the changelog, and every 97th trade twice.
    const again = trades.slice(firstPart - 50, firstPart);
    const restWithDuplicates = [...again, ...trades.slice(firstPart).flatMap((t, i) => (i % 97 === 0 ? [t, t] : [t]))];
    const rest = produceTrades(kafka, crashed.trades, restWithDuplicates, 500);
    const consumedAtKill = await doomed.waitForMetric('agg_producer_trades_consumed_total', (n) => n > firstPart);
    await doomed.kill();
    await rest;

    const survivor = await start('agg-crashed', crashed);
    const recovered = await waitForStats(kafka, crashed.stats, until, expected.length);
    const redone = await survivor.metric('agg_producer_trades_consumed_total');
    const duplicatesSeen = await survivor.metric('agg_producer_duplicate_trades_total');
    await survivor.stop();

    expect(consumedAtKill).toBeLessThan(trades.length);
    expect(before(recovered, until)).toEqual(before(uninterrupted, until));
    expect(before(uninterrupted, until)).toEqual(sortStats(expected));
    expect(expected.some((s) => s.count === 0)).toBe(true);
    const keys = recovered.map((s) => `${s.instrument}|${s.window_start}`);
    expect(new Set(keys).size).toBe(keys.length);
    // The survivor resumed from committed offsets, not from the beginning (how far the crashed run had
    // committed when it was killed varies with the machine's load: at least some thousands of trades).
    expect(redone).toBeLessThan(firstPart + restWithDuplicates.length - 2_000);
    expect(duplicatesSeen).toBeGreaterThan(0);
  });

  it('publishes a revision of a published window when a trade comes later than the grace', async () => {
    const t = freshTopics('revision');
    await createTopics(kafka, [t.trades], 1);
    const trades = btcTrades(3_000, 5);
    await produceTrades(kafka, t.trades, trades);
    const app = await start('agg-revision', t, 1);
    const until = settledUntil(trades, 1, 500);
    const expected = expectedStats(trades, MIN, ALPHA, PARAMS, until);
    await waitForStats(kafka, t.stats, until, expected.length);

    // A trade of the first window (its own trade_seq: not a duplicate), minutes after it was published.
    const first = trades[0];
    const late: DeribitTrade = {
      ...first,
      trade_id: 'late-1',
      trade_seq: 10_000_000,
      timestamp: first.timestamp + 1,
      price: first.price + 7.5,
      amount: 3,
    };
    await produceTrades(kafka, t.trades, [late]);
    const windowStart = Math.floor(late.timestamp / MIN) * MIN;
    const versions = await waitForVersions(kafka, t.stats, late.instrument_name, windowStart, 2);
    expect(await app.metric('agg_producer_late_trades_total')).toBe(0);
    expect(await app.metric('agg_producer_windows_published_total', { reason: 'revision' })).toBe(1);
    await app.stop();

    expect(versions.map((s) => s.revision)).toEqual([0, 1]);
    const [published, revised] = versions;
    // The ground truth of the window with the late trade in it, but for the EWMA: a revision keeps the one
    // first published (the EWMA follows arrival order).
    const [truth] = expectedStats([first, late, ...trades.slice(1)], MIN, ALPHA, PARAMS, windowStart + MIN);
    expect(published).toEqual(expected.find((s) => s.window_start === windowStart));
    expect({ ...revised, vwap: null, volume: 0 }).toEqual({
      ...truth,
      ewma: published.ewma,
      vwap: null,
      volume: 0,
      revision: 1,
    });
    expect(revised.volume).toBeCloseTo(truth.volume, 9);
    expect(revised.vwap).toBeCloseTo(truth.vwap!, 9);
  });

  it("carries raw-producer's unrecovered trades in the stats record, and revises the window when some come back", async () => {
    const t = freshTopics('unrecovered');
    await createTopics(kafka, [t.trades], 1);
    const trades = btcTrades(2_400, 9);
    // The gap is revealed by a trade of the second minute; the marker follows it, and later trades close the window.
    const revealing = trades.findIndex((x) => x.timestamp >= Date.parse('2026-03-01T10:01:30Z'));
    const gap = { instrument: 'BTC-PERPETUAL', time: trades[revealing].timestamp };
    await produceTrades(kafka, t.trades, trades.slice(0, revealing + 1));
    await produceGapMarkers(kafka, t.trades, [{ ...gap, count: 3 }]);
    await produceTrades(kafka, t.trades, trades.slice(revealing + 1));
    const app = await start('agg-unrecovered', t, 1);
    const until = settledUntil(trades, 1, 500);
    const expected = expectedStats(trades, MIN, ALPHA, PARAMS, until);
    await waitForStats(kafka, t.stats, until, expected.length);

    // Two of the three found again later (raw-producer's back-fill retry): the window is published again.
    await produceGapMarkers(kafka, t.trades, [{ ...gap, count: -2 }]);
    const windowStart = Math.floor(gap.time / MIN) * MIN;
    const versions = await waitForVersions(kafka, t.stats, gap.instrument, windowStart, 2);
    expect(await app.metric('agg_producer_unrecovered_unplaced_total')).toBe(0);
    await app.stop();

    const truth = expected.find((s) => s.window_start === windowStart)!;
    expect(versions).toEqual([
      { ...truth, unrecovered_trades: 3 },
      { ...truth, revision: 1, unrecovered_trades: 1 },
    ]);
    // Every other window as the ground truth, nothing lost in it.
    const others = (await readStats(kafka, t.stats)).filter(
      (s) => s.window_start !== windowStart && s.window_start < until,
    );
    expect(sortStats(others)).toEqual(expected.filter((s) => s.window_start !== windowStart));
  });
});
