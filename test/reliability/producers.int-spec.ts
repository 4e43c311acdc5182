/**
 * Reliability suite 4, producers: raw-producer (live source, against the fake Deribit of
 * test/raw-producer) and agg-producer run as processes on the real Kafka broker of the integration run
 * while the fake exchange trades; each is SIGKILLed several times at seeded random moments and restarted.
 * Afterwards the committed topics (read_committed) must hold:
 * - deribit-trades: every trade the exchange made exactly once, in trade_seq order per instrument, with
 *   its exact values. Trades made while raw-producer was dead are never notified (the live protocol has
 *   no replay); the restarted raw-producer restores each instrument's last trade_seq from the topic, sees
 *   the gap at the next notification and back-fills it with public/get_last_trades_by_instrument. The
 *   suite counts those trades and reads the gaps and back-fills from raw-producer's logs.
 * - deribit-trade-stats: every (instrument, window start) once, with the values an independent batch
 *   computation (test/agg-producer/support/trades.ts: count, volume, OHLC, VWAP, EWMA span 20) gives
 *   from the exchange's trades.
 *
 * Event time runs SPEEDUP (10) times faster than wall time, so a one-minute window lasts ~6 s. The grace
 * (WINDOW_GRACE_MS) is the default, 2 s of event time: agg-producer closes quiet windows on the source
 * watermarks raw-producer writes into the trades topic, which stand still while raw-producer is dead and
 * while it catches up after a restart, so no back-filled trade is late however long the restart takes.
 * (Before source watermarks the partition's clock ran on with the wall time, and this suite needed a grace
 * of 300 s of event time; a first run with 60 s had 42 late trades.)
 * At the end the exchange's clock jumps past every window and its grace, and one last trade per
 * instrument closes the windows by event time and reveals the gap of the last kill.
 *
 * CI: `npx jest test/reliability/producers.int-spec.ts --selectProjects integration` (100 trades/s, 90 s,
 * 3 + 3 kills). Larger: `npm run reliability:producers` (RELIABILITY_FULL=1: 200 trades/s, 240 s, 6 + 6);
 * sizes by RELIABILITY_PRODUCERS_RATE, RELIABILITY_PRODUCERS_SECONDS, RELIABILITY_PRODUCERS_RAW_KILLS,
 * RELIABILITY_PRODUCERS_AGG_KILLS; RELIABILITY_SEED.
 */
import { readFileSync } from 'node:fs';
import { DeribitTrade, TradeStats, ewmaParamsOf } from '@lib/domain';
import { Rng } from '../../bench/loadgen/prng';
import { sleep } from '../../scripts/servers/process-utils';
import { readStats, testKafka } from '../agg-producer/support/kafka-io';
import { expectedStats } from '../agg-producer/support/trades';
import { chaosEnv, CHANNELS, INSTRUMENTS } from '../raw-producer/chaos.scenario';
import { FakeDeribitServer } from '../raw-producer/fake-deribit.server';
import { AppProcess } from '../support/app.process';
import { testKafkaBrokers, uniqueName } from '../support/test-env';
import { Figures } from './support/figures';
import { FULL, seed, size } from './support/sizes';
import { readTopic } from './support/topic.reader';

const RATE = size('PRODUCERS_RATE', 100, 200);
const SECONDS = size('PRODUCERS_SECONDS', 90, 240);
const RAW_KILLS = size('PRODUCERS_RAW_KILLS', 3, 6);
const AGG_KILLS = size('PRODUCERS_AGG_KILLS', 3, 6);
const SEED = seed(4);
const PARTITIONS = 3;
const MIN = 60_000;
/** Event time runs this many times faster than wall time: a one-minute window lasts ~6 s. */
const SPEEDUP = 10;
/** WINDOW_GRACE_MS's default. */
const GRACE_MS = 2_000;
const SPAN = 20;
const ALPHA = 2 / (SPAN + 1);
const PARAMS = ewmaParamsOf({ mode: 'span', span: SPAN });
/** Event time between trades: 1..MAX ms at random, so that RATE trades advance it by SPEEDUP s a second. */
const MAX_TRADE_GAP_MS = Math.round((2 * SPEEDUP * 1000) / RATE);
const TICK_MS = 50;
/** Relative trade rates of the instruments (BTC perpetual, ETH perpetual, BTC option). */
const WEIGHTS = [5, 3, 1];
const READ_TIMEOUT_MS = 120_000;

jest.setTimeout((SECONDS + 420) * 1000);

type App = 'raw-producer' | 'agg-producer';

const statKey = (s: Pick<TradeStats, 'instrument' | 'window_start'>) => `${s.instrument}|${s.window_start}`;
const tradeKey = (t: Pick<DeribitTrade, 'instrument_name' | 'trade_seq'>) => `${t.instrument_name}|${t.trade_seq}`;

/** A statistics record as comparable text (field order and prototypes aside). */
function canonical(s: TradeStats): string {
  const p = s.ewma_params;
  return JSON.stringify([
    s.instrument,
    s.window_start,
    s.window_end,
    s.count,
    s.volume,
    s.vwap,
    s.open,
    s.high,
    s.low,
    s.close,
    s.ewma,
    [p.mode, p.alpha, p.span, p.half_life_ms],
  ]);
}

/** What raw-producer's logs say about gaps and back-fills, summed over every process. */
function backfillsInLogs(files: readonly string[]): { gaps: number; missing: number; filled: number; lost: number } {
  const out = { gaps: 0, missing: 0, filled: 0, lost: 0 };
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/trade_seq gap on \S+: (\d+) trade\(s\) missing/g)) {
      out.gaps += 1;
      out.missing += Number(m[1]);
    }
    // A restart's catch-up (every known instrument's trades after its last) recovers most of them.
    for (const m of text.matchAll(/caught up \S+ after a reconnection: (\d+) trade\(s\) made while away/g)) {
      out.gaps += 1;
      out.missing += Number(m[1]);
      out.filled += Number(m[1]);
    }
    for (const m of text.matchAll(/back-fill of \S+ \d+\.\.\d+ recovered all (\d+) trades/g))
      out.filled += Number(m[1]);
    for (const m of text.matchAll(/back-fill of \S+ \d+\.\.\d+ recovered (\d+) of (\d+) trades/g)) {
      out.filled += Number(m[1]);
      out.lost += Number(m[2]) - Number(m[1]);
    }
  }
  return out;
}

/**
 * Reads until `complete` (or READ_TIMEOUT_MS), then once more a little later: a duplicate written after
 * the last expected record is caught too.
 */
async function readUntil<T>(read: () => Promise<T[]>, complete: (got: T[]) => boolean): Promise<T[]> {
  for (const deadline = Date.now() + READ_TIMEOUT_MS; Date.now() < deadline; await sleep(1_000)) {
    if (complete(await read())) break;
  }
  await sleep(2_000);
  return read();
}

describe('producers: raw-producer and agg-producer SIGKILLed mid-stream', () => {
  const figures = new Figures(
    'producers',
    `${FULL ? 'npm run reliability:producers' : 'npx jest test/reliability/producers.int-spec.ts --selectProjects integration'}: ` +
      `${RATE} trades/s for ${SECONDS} s on ${INSTRUMENTS.length} instruments, ${RAW_KILLS} SIGKILLs of raw-producer and ` +
      `${AGG_KILLS} of agg-producer, seed ${SEED}, ${PARTITIONS} partitions, 1-minute windows (event time ${SPEEDUP}× wall time), ` +
      `grace ${GRACE_MS / 1000} s, EWMA span ${SPAN}`,
  );
  const brokers = testKafkaBrokers();
  const kafka = testKafka(brokers);
  const topics = {
    trades: uniqueName('producers-trades'),
    stats: uniqueName('producers-stats'),
    state: uniqueName('producers-state'),
    group: uniqueName('producers-group'),
  };
  const common = {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
    TOPIC_DERIBIT_TRADES: topics.trades,
    LOG_LEVEL: 'log',
  };
  let server: FakeDeribitServer;
  const envs: Record<App, Record<string, string>> = {
    'raw-producer': {},
    'agg-producer': {
      ...common,
      // The same client id on every restart: the same transactional id, which fences the killed one.
      KAFKA_CLIENT_ID: uniqueName('producers-agg'),
      TOPIC_TRADE_STATS: topics.stats,
      TOPIC_AGG_STATE: topics.state,
      STATS_GROUP_ID: topics.group,
      // A killed member's partitions move to its successor within this (the minimum allowed).
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      WINDOW_MINUTES: '1',
      WINDOW_GRACE_MS: String(GRACE_MS),
      EWMA_MODE: 'span',
      EWMA_SPAN: String(SPAN),
      COMMIT_INTERVAL_MS: '200',
      IDLE_CHECK_INTERVAL_MS: '100',
    },
  };
  const running: Partial<Record<App, AppProcess>> = {};
  const processes: Record<App, AppProcess[]> = { 'raw-producer': [], 'agg-producer': [] };
  const kills: { app: App; atS: number; restartS: number }[] = [];
  let passed = false;

  async function launch(app: App): Promise<AppProcess> {
    const p = await AppProcess.start(app, uniqueName(`producers-${app}-${processes[app].length}`), envs[app]);
    processes[app].push(p);
    running[app] = p;
    await p.ready(90_000);
    return p;
  }

  beforeAll(async () => {
    server = await FakeDeribitServer.start({
      testRequestEveryMs: 500,
      testRequestTimeoutMs: 5_000,
      maxTradeGapMs: MAX_TRADE_GAP_MS,
    });
    envs['raw-producer'] = {
      ...common,
      KAFKA_CLIENT_ID: uniqueName('producers-raw'),
      ...chaosEnv(server),
      DERIBIT_CHANNELS: CHANNELS.join(','),
      DERIBIT_WATCHDOG_MS: '5000',
      DERIBIT_RPC_TIMEOUT_MS: '5000',
      BACKFILL_TIMEOUT_MS: '30000',
    };
    // raw-producer creates the trades topic; agg-producer its statistics and state topics.
    await launch('raw-producer');
    await launch('agg-producer');
  });

  afterAll(async () => {
    figures.report(passed ? 'passed' : 'failed');
    await Promise.allSettled(Object.values(running).map((p) => p.stop()));
    await server?.stop();
  });

  it(`holds each trade once and each window once, with exact values, across ${RAW_KILLS} + ${AGG_KILLS} SIGKILLs`, async () => {
    const rng = new Rng(SEED, 'kill-moments');
    const moments = [
      ...Array.from({ length: RAW_KILLS }, () => ({ app: 'raw-producer' as const, at: rng.float() })),
      ...Array.from({ length: AGG_KILLS }, () => ({ app: 'agg-producer' as const, at: rng.float() })),
    ]
      .map((m) => ({ ...m, at: (0.05 + 0.75 * m.at) * SECONDS * 1000 }))
      .sort((a, b) => a.at - b.at);

    // The exchange trades for SECONDS; trades made while no raw-producer is subscribed reach nobody.
    const tradeRng = new Rng(SEED, 'trades');
    const total = WEIGHTS.reduce((s, w) => s + w, 0);
    let unnotified = 0;
    const started = Date.now();
    const trading = (async () => {
      let due = 0;
      for (let tick = 1; Date.now() - started < SECONDS * 1000; tick++) {
        due += (RATE * TICK_MS) / 1000;
        const counts = WEIGHTS.map(() => 0);
        for (; due >= 1; due -= 1) {
          let pick = tradeRng.float() * total;
          counts[WEIGHTS.findIndex((w) => (pick -= w) < 0)] += 1;
        }
        const listening = server.subscribedConnections > 0;
        counts.forEach((n, i) => {
          if (n > 0) server.trade(INSTRUMENTS[i], n);
          if (!listening) unnotified += n;
        });
        await sleep(Math.max(0, started + tick * TICK_MS - Date.now()));
      }
    })();

    // A kill waits for the previous restart to be ready, so on a slow machine the last ones fall later.
    const killing = (async () => {
      for (const { app, at } of moments) {
        await sleep(Math.max(0, started + at - Date.now()));
        const killedAt = Date.now();
        await running[app]!.kill();
        await launch(app);
        kills.push({ app, atS: (killedAt - started) / 1000, restartS: (Date.now() - killedAt) / 1000 });
      }
    })();
    await Promise.all([trading, killing]);
    const tradingS = (Date.now() - started) / 1000;

    // Past every window and its grace; then one trade per instrument, which raw-producer (alive) gets.
    await server.waitFor('raw-producer subscribed', () => server.subscribedConnections > 0, 60_000);
    server.advanceClock(MIN + GRACE_MS + 1_000);
    const last = INSTRUMENTS.map((instrument) => server.trade(instrument, 1)[0]);
    const made = server.allTrades();

    // deribit-trades, read_committed, until every trade made is there.
    const wanted = made.map(tradeKey);
    const inTopic = await readUntil(
      async () => (await readTopic<DeribitTrade>(brokers, topics.trades, 'market.DeribitTrade')).map((m) => m.value),
      (got) => {
        const have = new Set(got.map(tradeKey));
        return wanted.every((k) => have.has(k));
      },
    );

    const seen = new Map<string, number>();
    for (const t of inTopic) seen.set(tradeKey(t), (seen.get(tradeKey(t)) ?? 0) + 1);
    const duplicateTrades = [...seen.values()].reduce((s, n) => s + n - 1, 0);
    const missingTrades = made.filter((t) => !seen.has(tradeKey(t)));
    const byKey = new Map(made.map((t) => [tradeKey(t), t]));
    const unknownTrades = inTopic.filter((t) => !byKey.has(tradeKey(t)));
    const wrongTrades = inTopic.filter((t) => {
      const want = byKey.get(tradeKey(t));
      return want !== undefined && JSON.stringify(t) !== JSON.stringify(want);
    });
    const outOfOrder = INSTRUMENTS.filter((instrument) => {
      const seqs = inTopic.filter((t) => t.instrument_name === instrument).map((t) => t.trade_seq);
      return seqs.some((s, i) => i > 0 && s <= seqs[i - 1]);
    });

    // deribit-trade-stats, read_committed: every window closed by the last trades' event time, at least.
    const until = Math.floor((Math.min(...last.map((t) => t.timestamp)) - GRACE_MS - 1) / MIN) * MIN;
    const reference = new Map(
      expectedStats(made, MIN, ALPHA, PARAMS, until + 10 * MIN).map((s) => [statKey(s), s] as const),
    );
    const closed = [...reference.values()].filter((s) => s.window_end <= until);
    const published = await readUntil(
      () => readStats(kafka, topics.stats),
      (got) => {
        const have = new Set(got.map(statKey));
        return closed.every((s) => have.has(statKey(s)));
      },
    );

    const windows = new Map<string, number>();
    for (const s of published) windows.set(statKey(s), (windows.get(statKey(s)) ?? 0) + 1);
    const duplicateWindows = [...windows.values()].reduce((s, n) => s + n - 1, 0);
    const missingWindows = closed.filter((s) => !windows.has(statKey(s)));
    const wrongWindows = published.filter((s) => {
      const want = reference.get(statKey(s));
      return want === undefined || canonical(s) !== canonical(want);
    });
    const late = await running['agg-producer']!.metric('agg_producer_late_trades_total').catch(() => Number.NaN);
    const logs = backfillsInLogs(processes['raw-producer'].map((p) => p.logFile));
    const lateInLogs = processes['agg-producer']
      .map((p) => readFileSync(p.logFile, 'utf8').match(/late trade /g)?.length ?? 0)
      .reduce((a, b) => a + b, 0);

    const killsOf = (app: App) => kills.filter((k) => k.app === app);
    figures.add('trades made by the exchange', made.length);
    figures.add('  made while no raw-producer was subscribed (only back-fill finds them)', unnotified);
    figures.add('trades in deribit-trades (read_committed)', inTopic.length);
    figures.add('duplicate trades', duplicateTrades);
    figures.add('missing trades', missingTrades.length);
    figures.add(
      'trades with wrong values / unknown to the exchange',
      `${wrongTrades.length} / ${unknownTrades.length}`,
    );
    figures.add('instruments out of trade_seq order', outOfOrder.length);
    figures.add(
      'raw-producer logs: gaps / trades missing / back-filled / lost',
      `${logs.gaps} / ${logs.missing} / ${logs.filled} / ${logs.lost}`,
    );
    figures.add('SIGKILLs of raw-producer', killsOf('raw-producer').length);
    figures.add('SIGKILLs of agg-producer', killsOf('agg-producer').length);
    for (const app of ['raw-producer', 'agg-producer'] as const) {
      figures.add(
        `  ${app} kill moments, s into the run`,
        killsOf(app)
          .map((k) => k.atS.toFixed(1))
          .join(', '),
      );
      figures.add(
        `  ${app} kill to ready, s`,
        killsOf(app)
          .map((k) => k.restartS.toFixed(1))
          .join(', '),
      );
    }
    figures.add('trading phase, s', tradingS.toFixed(1));
    figures.add('windows expected closed (reference)', closed.length);
    figures.add('  of which empty (count 0)', closed.filter((s) => s.count === 0).length);
    figures.add('windows published (read_committed)', published.length);
    figures.add('duplicate windows', duplicateWindows);
    figures.add('missing windows', missingWindows.length);
    figures.add('windows with wrong values (or unknown)', wrongWindows.length);
    figures.add("late trades (not aggregated): all processes' logs / last process's metric", `${lateInLogs} / ${late}`);

    if (wrongWindows.length > 0) {
      const w = wrongWindows[0];
      process.stdout.write(
        `first wrong window:\n  got  ${canonical(w)}\n  want ${reference.has(statKey(w)) ? canonical(reference.get(statKey(w))!) : 'none'}\n`,
      );
    }
    expect(kills.length).toBe(RAW_KILLS + AGG_KILLS);
    expect(missingTrades.slice(0, 10)).toEqual([]);
    expect(duplicateTrades).toBe(0);
    expect(wrongTrades.slice(0, 5)).toEqual([]);
    expect(unknownTrades.slice(0, 5)).toEqual([]);
    expect(outOfOrder).toEqual([]);
    expect(logs.lost).toBe(0);
    expect(missingWindows.slice(0, 10).map(statKey)).toEqual([]);
    expect(duplicateWindows).toBe(0);
    expect(lateInLogs).toBe(0);
    expect(wrongWindows.slice(0, 5).map(canonical)).toEqual([]);
    // The suite tested what it means to: trades made while raw-producer was dead, recovered by back-fill.
    expect(unnotified).toBeGreaterThan(0);
    expect(logs.filled).toBeGreaterThanOrEqual(unnotified);
    expect(closed.length).toBeGreaterThan(8 * INSTRUMENTS.length);
    passed = true;
  });
});
