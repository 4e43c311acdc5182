/**
 * The embedded mode (`npm start`) with the live source (`TRADE_SOURCE=live`): raw-producer subscribes to a
 * Deribit-like websocket server (the fake exchange of the raw-producer tests: Deribit's JSON-RPC, its own
 * clock), and what the exchange traded reaches the REST read side and the page as windows equal to the
 * ground truth from the exchange's log. Deribit itself is out of reach from these machines; the same app
 * with the default DERIBIT_WS_URL is what streams it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeribitTrade } from '@lib/domain';
import { sleep } from '../../scripts/servers/process-utils';
import { AppProcess } from '../support/app.process';
import { uniqueName } from '../support/test-env';
import { BTC, CHANNELS } from '../raw-producer/chaos.scenario';
import { FakeDeribitServer } from '../raw-producer/fake-deribit.server';
import type { WindowAnswer } from '../../apps/gateway/src/market/market-answer';

const MIN = 60_000;

describe('embedded mode (npm start) with the live source', () => {
  let dataDir: string;
  let app: AppProcess | undefined;
  let server: FakeDeribitServer | undefined;

  afterAll(async () => {
    await app?.stop();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("serves the exchange's trades as windows over REST and on the page, equal to the exchange's log", async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'embedded-live-'));
    server = await FakeDeribitServer.start({ testRequestEveryMs: 1_000, testRequestTimeoutMs: 5_000 });
    const exchange = server;
    app = await AppProcess.start('embedded', uniqueName('embedded-live'), {
      DATA_DIR: dataDir,
      TRADE_SOURCE: 'live',
      DERIBIT_WS_URL: exchange.url,
      DERIBIT_CHANNELS: CHANNELS.join(','),
    });
    await app.ready(150_000);
    await exchange.waitFor('the subscription', () => exchange.subscribedConnections === 1, 60_000);

    // A minute and more of BTC trading by the exchange's clock: the first window closes on BTC's own trades.
    const made: DeribitTrade[] = [];
    for (let i = 0; i < 20; i++) {
      made.push(...exchange.trade(BTC, 10));
      await sleep(20);
    }
    exchange.advanceClock(MIN + 5_000);
    made.push(...exchange.trade(BTC, 5));
    const windowStart = Math.floor(made[0].timestamp / MIN) * MIN;
    const inWindow = made.filter((t) => t.timestamp < windowStart + MIN);
    expect(inWindow.length).toBeGreaterThanOrEqual(100);

    const from = new Date(windowStart).toISOString();
    const to = new Date(windowStart + MIN).toISOString();
    const url = `${app.url}/market/instruments/${BTC}/windows?from=${from}&to=${to}`;
    let windows: WindowAnswer[] = [];
    for (const deadline = Date.now() + 60_000; windows.length === 0 && Date.now() < deadline; await sleep(250)) {
      // 404 until the read side has stored a first window of the instrument.
      const res = await fetch(url);
      if (res.status === 200) windows = ((await res.json()) as { windows: WindowAnswer[] }).windows;
      else expect([res.status, await res.text()]).toEqual([404, expect.stringContaining(BTC)]);
    }
    const volume = inWindow.reduce((s, t) => s + t.amount, 0);
    const prices = inWindow.map((t) => t.price);
    expect(windows).toHaveLength(1);
    expect({ ...windows[0], vwap: null, volume: 0 }).toMatchObject({
      instrument: BTC,
      window_start: from,
      count: inWindow.length,
      open: prices[0],
      high: Math.max(...prices),
      low: Math.min(...prices),
      close: prices[prices.length - 1],
      revision: 0,
      unrecovered_trades: 0,
    });
    expect(windows[0].volume).toBeCloseTo(volume, 6);
    expect(windows[0].vwap).toBeCloseTo(inWindow.reduce((s, t) => s + t.price * t.amount, 0) / volume, 6);

    const latest = (await (await fetch(`${app.url}/market/latest`)).json()) as { windows: WindowAnswer[] };
    expect(latest.windows.map((w) => w.instrument)).toContain(BTC);
    const page = await fetch(`${app.url}/market`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/market/chart.js"></script>');
    expect(await app.metric('deribit_trades_produced_total')).toBe(made.length);
  });
});
