/**
 * Issue 16, the market read side end to end on real Kafka and PostgreSQL: windows published on the
 * trade-stats topic (as agg-producer does) reach the gateway through Nest's Kafka microservice transport
 * and its Avro deserializer, are kept in PostgreSQL, and are answered over REST exactly (a republished
 * window replaces the earlier version, a redelivered one changes nothing); bad queries get a 400 that
 * names the parameter. Then the page at /market in a real browser (Debian's chromium, playwright-core)
 * draws the windows the API returns, candles and lines, and picks up a window published while it is open.
 */
import { TradeStats } from '@lib/domain';
import { kafkaHarness, MessagingHarness } from '@lib/kafka-avro/testing/messaging-harness';
import { sampleTradeStats } from '@lib/kafka-avro/testing/sample-values';
import { tradeStatsTopic } from '@lib/kafka-avro/topics';
import { ensureTopics } from '@lib/kafka-avro/kafka/kafka-topic.admin';
import { Kafka, logLevel } from 'kafkajs';
import type { Browser } from 'playwright-core';
import { sleep } from '../../scripts/servers/process-utils';
import { AppProcess } from '../support/app.process';
import { launchChromium } from '../support/chromium';
import { createTestDatabase, TestDatabase, testKafkaBrokers, uniqueName } from '../support/test-env';

jest.setTimeout(180_000);

const MINUTE = 60_000;
const T0 = Date.parse('2026-03-01T10:00:00Z');
const topic = tradeStatsTopic(uniqueName('trade-stats'));

/** A random-walk window of `instrument`; every 7th is empty (no trades: null prices, EWMA carried). */
function windowAt(instrument: string, minute: number, base: number): TradeStats {
  const start = T0 + minute * MINUTE;
  if (minute % 7 === 3) {
    return sampleTradeStats({
      instrument,
      window_start: start,
      window_end: start + MINUTE,
      count: 0,
      volume: 0,
      vwap: null,
      open: null,
      high: null,
      low: null,
      close: null,
      ewma: base,
    });
  }
  const open = base + Math.sin(minute) * 10;
  const close = base + Math.cos(minute) * 10;
  return sampleTradeStats({
    instrument,
    window_start: start,
    window_end: start + MINUTE,
    count: 5 + minute,
    volume: 100 + minute,
    vwap: (open + close) / 2,
    open,
    high: Math.max(open, close) + 3,
    low: Math.min(open, close) - 3,
    close,
    ewma: (open + close) / 2 + 1,
  });
}

const iso = (ms: number) => new Date(ms).toISOString();

/** What the test reads in the page (it runs there: no DOM types in this Node project). */
interface Point {
  time: number;
  open?: number;
  high?: number;
  low?: number;
  close?: number;
  value?: number;
}
interface Canvas {
  width: number;
  height: number;
  getContext(
    kind: '2d',
  ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
interface PageGlobals {
  market?: {
    instrument: string;
    windows: unknown[];
    unrecovered: number;
    candles: { data(): Point[] };
    vwap: { data(): Point[] };
    ewma: { data(): Point[] };
  };
  document?: {
    querySelectorAll(selector: string): ArrayLike<{ textContent: string | null; className: string }>;
    getElementById(id: string): { textContent: string | null } | null;
  };
}
const asAnswer = (w: TradeStats) => ({ ...w, window_start: iso(w.window_start), window_end: iso(w.window_end) });

describe('market read side: deribit-trade-stats to REST and the /market page', () => {
  let db: TestDatabase;
  let gateway: AppProcess;
  let harness: MessagingHarness;
  let browser: Browser | undefined;
  const btc = Array.from({ length: 30 }, (_, m) => windowAt('BTC-PERPETUAL', m, 60_000));
  // ETH's newest window misses two trades the raw-producer could not recover (the page's table shows it).
  const eth = Array.from({ length: 12 }, (_, m) => ({
    ...windowAt('ETH-PERPETUAL', m, 3_000),
    unrecovered_trades: m === 11 ? 2 : 0,
  }));
  // The republished version of BTC's window 5: the API must answer this one.
  const revised = { ...btc[5], count: 999, close: 61_234.5, revision: 1, unrecovered_trades: 4 };

  const get = async (path: string) => {
    const res = await fetch(`${gateway.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    const kafka = new Kafka({ clientId: 'market-test', brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING });
    await ensureTopics(kafka, [topic.name], { partitions: 3, replicationFactor: 1 });
    db = await createTestDatabase('market');
    gateway = await AppProcess.start('gateway', uniqueName('market-gateway'), {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      DATABASE_URL: db.url,
      TOPIC_USER_TAGS: uniqueName('market-tags'),
      TOPIC_TRADE_STATS: topic.name,
      MARKET_GROUP_ID: uniqueName('market'),
      LOG_LEVEL: 'warn',
    });
    await gateway.ready(90_000);
    harness = kafkaHarness(testKafkaBrokers(), uniqueName);
    const publisher = await harness.publisher();
    await publisher.publish(topic, [...btc, ...eth]);
    await publisher.publish(topic, [btc[0], btc[1], revised]); // a redelivery and a revision
  });

  afterAll(async () => {
    await browser?.close();
    await harness?.close();
    await gateway?.stop();
    await db?.drop();
  });

  it('answers what was published, exactly: instruments, windows by range and limit, the latest', async () => {
    let instruments: Record<string, unknown> = {};
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
      instruments = (await get('/market/instruments')).body;
      const list = instruments.instruments as { windows: number }[] | undefined;
      const btcAnswer = await get(
        '/market/instruments/BTC-PERPETUAL/windows?from=2026-03-01T10:05:00Z&to=2026-03-01T10:06:00Z',
      );
      const fifth = (btcAnswer.body.windows as { count: number }[] | undefined)?.[0];
      if (list?.length === 2 && list.every((i) => i.windows >= 12) && fifth?.count === 999) break;
    }
    expect(instruments).toEqual({
      instruments: [
        {
          instrument: 'BTC-PERPETUAL',
          windows: 30,
          first_window_start: iso(T0),
          last_window_start: iso(T0 + 29 * MINUTE),
        },
        {
          instrument: 'ETH-PERPETUAL',
          windows: 12,
          first_window_start: iso(T0),
          last_window_start: iso(T0 + 11 * MINUTE),
        },
      ],
    });
    const expectedBtc = btc.map((w, i) => (i === 5 ? revised : w)).map(asAnswer);
    expect((await get('/market/instruments/BTC-PERPETUAL/windows')).body).toEqual({
      instrument: 'BTC-PERPETUAL',
      windows: expectedBtc,
    });
    expect(
      (await get('/market/instruments/BTC-PERPETUAL/windows?from=2026-03-01T10:02:00Z&to=2026-03-01T10:20:00Z&limit=4'))
        .body.windows,
    ).toEqual(expectedBtc.slice(16, 20));
    expect((await get('/market/latest')).body).toEqual({ windows: [asAnswer(btc[29]), asAnswer(eth[11])] });
    expect(await gateway.metric('market_windows_stored_total')).toBeGreaterThanOrEqual(btc.length + eth.length);
    expect(await gateway.metric('market_consumer_up')).toBe(1);
  });

  it('answers 404 for an unknown instrument and 400 naming the parameter for a bad query', async () => {
    expect(await get('/market/instruments/DOGE-PERPETUAL/windows')).toMatchObject({
      status: 404,
      body: { code: 'NOT_FOUND' },
    });
    for (const [path, field] of [
      ['/market/instruments/BTC-PERPETUAL/windows?from=yesterday', 'from'],
      ['/market/instruments/BTC-PERPETUAL/windows?from=2026-03-01T11:00:00Z&to=2026-03-01T10:00:00Z', 'to'],
      ['/market/instruments/BTC-PERPETUAL/windows?limit=0', 'limit'],
      ['/market/instruments/BTC-PERPETUAL/windows?limt=5', 'limt'],
      ['/market/instruments/btc%20perp/windows', 'instrument'],
      ['/market/latest?instrument=BTC-PERPETUAL', 'instrument'],
    ]) {
      expect([path, await get(path)]).toMatchObject([path, { status: 400, body: { code: 'INVALID_QUERY', field } }]);
    }
  });

  it('the page draws the windows the API returns, and a window published while it is open', async () => {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${gateway.url}/market?instrument=BTC-PERPETUAL`);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).market?.windows.length === 30, null, {
      timeout: 30_000,
    });
    const api = (await get('/market/instruments/BTC-PERPETUAL/windows?limit=1440')).body.windows as ReturnType<
      typeof asAnswer
    >[];
    const drawn = await page.evaluate(() => {
      const { market: m, document } = globalThis as unknown as Required<PageGlobals>;
      // What the canvases show: pixels in the candles' colours (up #26a69a, down #ef5350).
      let candlePixels = 0;
      for (const canvas of Array.from(document.querySelectorAll('#chart canvas')) as unknown as Canvas[]) {
        const ctx = canvas.getContext('2d');
        if (!ctx || canvas.width === 0 || canvas.height === 0) continue;
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < px.length; i += 4) {
          const [r, g, b] = [px[i], px[i + 1], px[i + 2]];
          if (
            (Math.abs(r - 0x26) < 8 && Math.abs(g - 0xa6) < 8 && Math.abs(b - 0x9a) < 8) ||
            (Math.abs(r - 0xef) < 8 && Math.abs(g - 0x53) < 8 && Math.abs(b - 0x50) < 8)
          )
            candlePixels++;
        }
      }
      return {
        instrument: m.instrument,
        candles: m.candles.data(),
        vwap: m.vwap.data(),
        ewma: m.ewma.data(),
        candlePixels,
        rows: document.querySelectorAll('#latest tbody tr').length,
        header: Array.from(document.querySelectorAll('#latest thead th')).map((th) => th.textContent),
        cells: Array.from(document.querySelectorAll('#latest tbody td')).map((td) => [td.textContent, td.className]),
        unrecovered: m.unrecovered,
        status: document.getElementById('status')?.textContent,
      };
    });
    const seconds = (w: { window_start: string }) => Date.parse(w.window_start) / 1000;
    expect(drawn.instrument).toBe('BTC-PERPETUAL');
    // Windows with trades are candles with the API's OHLC and VWAP points; empty ones are gaps (no candle,
    // no VWAP); the EWMA, carried through empty windows, is a point of every window.
    const traded = api.filter((w) => w.open !== null);
    expect(traded.length).toBeLessThan(api.length);
    expect(drawn.candles).toEqual(
      traded.map((w) => ({ time: seconds(w), open: w.open, high: w.high, low: w.low, close: w.close })),
    );
    expect(drawn.vwap).toEqual(traded.map((w) => ({ time: seconds(w), value: w.vwap })));
    expect(drawn.ewma).toEqual(api.map((w) => ({ time: seconds(w), value: w.ewma })));
    expect(traded.length).toBeGreaterThan(20);
    expect(drawn.candlePixels).toBeGreaterThan(500);
    expect(drawn.rows).toBe(2);
    // Each instrument's newest window with its trades, the trades known missing (marked) and its revision.
    const columns = drawn.header.length;
    const rowOf = (i: number) => drawn.cells.slice(i * columns, (i + 1) * columns);
    expect(drawn.header.slice(0, 5)).toEqual(['instrument', 'window start (UTC)', 'trades', 'unrecovered', 'revision']);
    expect(rowOf(0).slice(0, 5)).toEqual([
      ['BTC-PERPETUAL', ''],
      [iso(btc[29].window_start).slice(0, 16).replace('T', ' '), ''],
      [String(btc[29].count), ''],
      ['0', ''],
      ['0', ''],
    ]);
    expect(rowOf(1)[0]).toEqual(['ETH-PERPETUAL', '']);
    expect(rowOf(1).slice(3, 5)).toEqual([
      ['2', 'missing'],
      ['0', ''],
    ]);
    // Over BTC's drawn windows: the revised window 5 misses 4 trades.
    expect(drawn.unrecovered).toBe(4);
    expect(drawn.status).toContain('4 trades missing');

    // A window that closes while the page is open appears at its next refresh (every 2 s).
    const next = windowAt('BTC-PERPETUAL', 30, 60_000);
    await (await harness.publisher()).publish(topic, [next]);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).market?.windows.length === 31, null, {
      timeout: 30_000,
    });
    const last = await page.evaluate(() =>
      (globalThis as unknown as Required<PageGlobals>).market.candles.data().at(-1),
    );
    expect(last).toMatchObject({ time: next.window_start / 1000, close: next.close });
    expect(errors).toEqual([]);
  });
});
