import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeribitTrade, TradeSourceEvent, TradeSourceListener } from '@lib/domain';
import { NdjsonReplaySource } from './ndjson-replay.source';

const SAMPLE = join(__dirname, '..', '..', 'recordings', 'sample.ndjson');

class Recorder implements TradeSourceListener {
  readonly trades: DeribitTrade[] = [];
  readonly arrivals: number[] = [];
  readonly events: TradeSourceEvent[] = [];

  onTrades(trades: readonly DeribitTrade[]): Promise<void> {
    this.trades.push(...trades);
    this.arrivals.push(Date.now());
    return Promise.resolve();
  }
  onEvent(event: TradeSourceEvent): void {
    this.events.push(event);
  }
}

function trade(instrument: string, seq: number, id: string, timestamp: number): DeribitTrade {
  return {
    trade_seq: seq,
    trade_id: id,
    timestamp,
    tick_direction: 0,
    price: 100,
    mark_price: 100,
    index_price: 100,
    instrument_name: instrument,
    direction: 'buy',
    amount: 10,
  };
}

const frame = (data: unknown[], channel = 'trades.X.100ms'): string =>
  JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel, data } });

async function until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('NdjsonReplaySource', () => {
  let dir: string;
  let source: NdjsonReplaySource | undefined;
  let rec: Recorder;

  const file = (lines: string[]): string => {
    const path = join(dir, `recording-${Math.random().toString(36).slice(2)}.ndjson`);
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'replay-spec-'));
    rec = new Recorder();
  });

  afterEach(async () => {
    await source?.stop();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('replays the shipped sample: every trade, in file order, skipping non-trade frames', async () => {
    source = new NdjsonReplaySource({ file: SAMPLE, speed: 1_000_000, loop: false });
    await source.start(rec);
    await until('the end of the file', () => source?.state() === 'finished');
    expect(rec.trades.length).toBeGreaterThanOrEqual(300);
    // Ahead of schedule, consecutive notifications are handed over together (at most 500 trades a call).
    expect(rec.arrivals.length).toBeLessThan(rec.trades.length / 100);
    expect(rec.events.filter((e) => e.type === 'malformed')).toEqual([]);
    expect(rec.events.at(-1)).toEqual({ type: 'finished' });
    const instruments = new Set(rec.trades.map((t) => t.instrument_name));
    expect(instruments).toEqual(
      new Set(['BTC-PERPETUAL', 'ETH-PERPETUAL', 'BTC-25DEC26', 'BTC-27NOV26-100000-C', 'BTC-25DEC26-110000-C']),
    );
    for (const instrument of instruments) {
      const seqs = rec.trades.filter((t) => t.instrument_name === instrument).map((t) => t.trade_seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
    }
    expect(rec.trades.some((t) => t.liquidation === 'T')).toBe(true);
    expect(rec.trades.filter((t) => t.block_trade_id !== undefined)).toHaveLength(2);
    expect(rec.trades.filter((t) => t.iv !== undefined).length).toBeGreaterThan(0);
  });

  it('paces notifications by their trades’ timestamps divided by the speed', async () => {
    const t0 = 1_795_000_000_000;
    const path = file([0, 200, 400].map((d, i) => frame([trade('X', i + 1, String(i + 1), t0 + d)])));
    source = new NdjsonReplaySource({ file: path, speed: 2, loop: false });
    await source.start(rec);
    await until('3 notifications', () => rec.arrivals.length === 3);
    const elapsed = rec.arrivals[2] - rec.arrivals[0];
    expect(elapsed).toBeGreaterThanOrEqual(180);
    expect(elapsed).toBeLessThan(1_000);
  });

  it("has a watermark: the newest time delivered, the recording's clock while it waits, the wall clock's pace once finished", async () => {
    const t0 = 1_795_000_000_000;
    const path = file([frame([trade('X', 1, '1', t0)]), frame([trade('X', 2, '2', t0 + 10_000)])]);
    source = new NdjsonReplaySource({ file: path, speed: 20, loop: false });
    expect(source.watermark()).toBeUndefined();
    await source.start(rec);
    await until('the first notification', () => rec.trades.length === 1);
    // Waiting 500 ms for the second (10 s of recording at 20x): the clock runs at 20x, below its time.
    await new Promise((r) => setTimeout(r, 250));
    const waiting = source.watermark()!;
    expect(waiting).toBeGreaterThan(t0 + 2_000);
    expect(waiting).toBeLessThan(t0 + 10_000);
    await until('the end of the file', () => source?.state() === 'finished');
    const finished = source.watermark()!;
    await new Promise((r) => setTimeout(r, 100));
    const later = source.watermark()!;
    expect(finished).toBeGreaterThanOrEqual(t0 + 10_000);
    expect(later - finished).toBeGreaterThanOrEqual(90);
    expect(later - finished).toBeLessThan(1_000); // wall pace, not 20x
    await source.stop();
    expect(source.watermark()).toBeUndefined();
  });

  it.each([
    ['from memory', undefined],
    ['reading the file again', 0],
  ])(
    'loops (%s) with shifted seqs, ids and timestamps, so passes read as one ordered stream',
    async (_how, memoryMaxTrades) => {
      const t0 = 1_795_000_000_000;
      const path = file([
        frame([trade('X', 10, '500', t0), trade('X', 11, '501', t0 + 5)]),
        frame([trade('Y', 3, 'ETH-70', t0 + 10)], 'trades.Y.100ms'),
      ]);
      source = new NdjsonReplaySource({ file: path, speed: 1_000_000, loop: true, memoryMaxTrades });
      await source.start(rec);
      await until('4 passes', () => rec.trades.length >= 12);
      await source.stop();
      const xs = rec.trades.filter((t) => t.instrument_name === 'X');
      expect(xs.slice(0, 6).map((t) => t.trade_seq)).toEqual([10, 11, 12, 13, 14, 15]);
      expect(
        rec.trades
          .filter((t) => t.instrument_name === 'Y')
          .slice(0, 3)
          .map((t) => t.trade_id),
      ).toEqual(['ETH-70', 'ETH-71', 'ETH-72']);
      const ids = rec.trades.map((t) => t.trade_id);
      expect(new Set(ids).size).toBe(ids.length);
      const stamps = rec.trades.map((t) => t.timestamp);
      expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
      const passes = rec.events
        .filter((e) => e.type === 'subscribed')
        .map((e) => (e.type === 'subscribed' ? e.pass : -1));
      expect(passes.slice(0, 4)).toEqual([0, 1, 2, 3]);
    },
  );

  it('reports malformed lines and trades and goes on', async () => {
    const path = file([
      'not json',
      frame([trade('X', 1, '1', 1_795_000_000_000)]),
      frame([{ ...trade('X', 2, '2', 1_795_000_000_001), direction: 'up' }]),
      '',
      '{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}',
      frame([trade('X', 3, '3', 1_795_000_000_002)]),
    ]);
    source = new NdjsonReplaySource({ file: path, speed: 1_000_000, loop: false });
    await source.start(rec);
    await until('the end', () => source?.state() === 'finished');
    expect(rec.trades.map((t) => t.trade_seq)).toEqual([1, 3]);
    expect(
      rec.events.filter((e) => e.type === 'malformed').map((e) => (e.type === 'malformed' ? [e.what, e.reason] : [])),
    ).toEqual([
      ['frame', 'not JSON'],
      ['trade', 'direction is not buy or sell'],
    ]);
  });

  it('fails to start, naming the variable, when the file cannot be read', async () => {
    source = new NdjsonReplaySource({ file: join(dir, 'missing.ndjson'), speed: 1, loop: false });
    await expect(source.start(rec)).rejects.toThrow(/REPLAY_FILE=.*missing\.ndjson/);
    source = undefined;
  });

  it('stops promptly in the middle of a slow replay', async () => {
    const path = file([frame([trade('X', 1, '1', 1_795_000_000_000)]), frame([trade('X', 2, '2', 1_795_000_060_000)])]);
    source = new NdjsonReplaySource({ file: path, speed: 1, loop: false });
    await source.start(rec);
    await until('the first trade', () => rec.trades.length === 1);
    const started = Date.now();
    await source.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(rec.trades).toHaveLength(1);
    expect(source.state()).toBe('idle');
  });

  it('cannot back-fill', async () => {
    source = new NdjsonReplaySource({ file: SAMPLE, speed: 1, loop: false });
    expect(source.supportsBackfill).toBe(false);
    await expect(source.fetchTrades()).rejects.toThrow('cannot fetch');
    source = undefined;
  });
});
