import { DeribitTrade, PublishedTrades, TradeSource, TradeSourceListener, TradeSourceState } from '@lib/domain';
import {
  deribitTradesTopic,
  Marker,
  MessagePublisher,
  PublishError,
  TopicSpec,
  tradeGapOf,
  tradeWatermarkTime,
} from '@lib/kafka-avro';
import { Logger } from '@nestjs/common';
import { Metric, Registry } from 'prom-client';
import { RawProducerMetrics } from '../metrics/raw-producer.metrics';
import { TradeForwarder, TradeForwarderOptions } from './trade-forwarder.service';

Logger.overrideLogger(['error']);

function trade(instrument: string, seq: number, id = `${instrument}-${seq}`): DeribitTrade {
  return {
    trade_seq: seq,
    trade_id: id,
    timestamp: Date.now() - 50,
    tick_direction: 0,
    price: 100,
    mark_price: 100,
    index_price: 100,
    instrument_name: instrument,
    direction: 'buy',
    amount: 10,
  };
}

const seqsOf = (trades: readonly DeribitTrade[], instrument: string): number[] =>
  trades.filter((t) => t.instrument_name === instrument).map((t) => t.trade_seq);

class FakeSource extends TradeSource {
  supportsBackfill = true;
  listener: TradeSourceListener | undefined;
  stopped = false;
  fetch: (instrument: string, from: number, to: number) => Promise<DeribitTrade[]> = (i, from, to) =>
    Promise.resolve(Array.from({ length: to - from + 1 }, (_, k) => trade(i, from + k)));
  readonly fetches: [string, number, number][] = [];

  start(listener: TradeSourceListener): Promise<void> {
    this.listener = listener;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
  state(): TradeSourceState {
    return 'streaming';
  }
  /** What watermark() answers. */
  clock: number | undefined;
  watermark(): number | undefined {
    return this.clock;
  }
  fetchTrades(instrument: string, from: number, to: number): Promise<DeribitTrade[]> {
    this.fetches.push([instrument, from, to]);
    return this.fetch(instrument, from, to);
  }
  /** Answers of fetchTradesByTime (default: the source cannot). */
  fetchByTime: (instrument: string, from: number, to: number) => Promise<DeribitTrade[]> = () =>
    Promise.reject(new Error('not by time'));
  readonly timeFetches: [string, number, number][] = [];
  fetchTradesByTime(instrument: string, from: number, to: number): Promise<DeribitTrade[]> {
    this.timeFetches.push([instrument, from, to]);
    return this.fetchByTime(instrument, from, to);
  }
  push(...trades: DeribitTrade[]): Promise<void> {
    return this.listener!.onTrades(trades);
  }
  /** From now on fetchTrades answers only once the returned function is called (as it would have). */
  holdFetches(): () => void {
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    const answer = this.fetch;
    this.fetch = async (i, from, to) => {
      await released;
      return answer(i, from, to);
    };
    return release;
  }
}

class FakePublisher extends MessagePublisher {
  readonly written: DeribitTrade[] = [];
  readonly keys: string[] = [];
  readonly calls: number[] = [];
  failures = 0;
  inFlight = 0;
  maxInFlight = 0;
  gate: Promise<void> | undefined;

  async publish<T>(topic: TopicSpec<T>, values: readonly T[]): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.gate;
      if (this.failures > 0) {
        this.failures--;
        throw new PublishError('broker unavailable', 'unavailable');
      }
      this.calls.push(values.length);
      for (const v of values) {
        this.written.push(v as DeribitTrade);
        this.keys.push(topic.key(v));
      }
    } finally {
      this.inFlight--;
    }
  }
  /** Watermarks written: to which instrument, its time, and how many trades were written before it. */
  readonly watermarks: { key: string; time: number | undefined; after: number }[] = [];
  /** Gap markers written: instrument, what it says, and how many trades were written before it. */
  readonly gaps: { key: string; time: number; count: number; after: number }[] = [];
  publishMarkers(_topic: TopicSpec<unknown>, markers: readonly Marker[]): Promise<void> {
    for (const m of markers) {
      const gap = tradeGapOf(m);
      if (gap !== undefined) this.gaps.push({ key: m.key, ...gap, after: this.written.length });
      else this.watermarks.push({ key: m.key, time: tradeWatermarkTime(m), after: this.written.length });
    }
    return Promise.resolve();
  }
  isReady(): boolean {
    return true;
  }
}

/** The topic as earlier runs left it: its tail is what `tail` returns (the last `perPartition`). */
class FakePublished extends PublishedTrades {
  trades: DeribitTrade[] = [];
  failures = 0;
  readonly asked: number[] = [];

  tail(perPartition: number): Promise<DeribitTrade[]> {
    this.asked.push(perPartition);
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('broker not reachable'));
    }
    return Promise.resolve(this.trades.slice(-perPartition));
  }
}

async function value(metric: Metric, labels: Record<string, string> = {}): Promise<number> {
  const data = await metric.get();
  const match = data.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return match?.value ?? 0;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('TradeForwarder', () => {
  let source: FakeSource;
  let publisher: FakePublisher;
  let metrics: RawProducerMetrics;
  let published: FakePublished;
  let forwarder: TradeForwarder;

  function create(opts: Partial<TradeForwarderOptions> = {}): TradeForwarder {
    forwarder = new TradeForwarder(
      source,
      publisher,
      deribitTradesTopic('deribit-trades'),
      metrics,
      {
        dedupeCapacity: 1_000,
        backfillEnabled: true,
        backfillMaxTrades: 100,
        backfillTimeoutMs: 2_000,
        backfillRetryForMs: 0,
        maxQueuedTrades: 10_000,
        publishBatchMax: 100,
        publishTimeoutMs: 1_000,
        publishRetryBaseMs: 1,
        publishRetryMaxMs: 5,
        shutdownTimeoutMs: 500,
        restoreTailPerPartition: 1_000,
        restoreTimeoutMs: 2_000,
        watermarkIntervalMs: 0,
        ...opts,
      },
      published,
    );
    return forwarder;
  }

  beforeEach(() => {
    source = new FakeSource();
    publisher = new FakePublisher();
    published = new FakePublished();
    metrics = new RawProducerMetrics(new Registry());
  });

  afterEach(async () => {
    await forwarder.stop();
  });

  it('publishes every trade once, keyed by instrument, one call at a time', async () => {
    await create({ publishBatchMax: 3 }).start();
    const btc = [trade('BTC-PERPETUAL', 1), trade('BTC-PERPETUAL', 2), trade('BTC-PERPETUAL', 3)];
    const eth = [trade('ETH-PERPETUAL', 7), trade('ETH-PERPETUAL', 8)];
    await source.push(btc[0], eth[0], btc[1]);
    await source.push(eth[1], btc[2]);
    await until('5 trades written', () => publisher.written.length === 5);
    expect(publisher.written).toEqual([btc[0], eth[0], btc[1], eth[1], btc[2]]);
    expect(publisher.keys).toEqual(publisher.written.map((t) => t.instrument_name));
    expect(publisher.maxInFlight).toBe(1);
    expect(await value(metrics.received)).toBe(5);
    expect(await value(metrics.produced)).toBe(5);
    expect(
      (await metrics.lag.get()).values.find((v) => v.metricName === 'deribit_trade_lag_seconds_count')?.value,
    ).toBe(5);
  });

  it('drops duplicate trade_ids and re-delivered trade_seqs', async () => {
    await create({ dedupeCapacity: 2 }).start();
    const t = [1, 2, 3, 4].map((s) => trade('BTC-PERPETUAL', s));
    await source.push(t[0], t[1], t[1]);
    await source.push(t[2], t[0], t[3]);
    // t[0]'s id has left the window of 2 ids, but its seq is below the instrument's last.
    await source.push(t[3], trade('BTC-PERPETUAL', 2, 'another-id'));
    await until('4 trades written', () => publisher.written.length === 4);
    await forwarder.stop();
    expect(seqsOf(publisher.written, 'BTC-PERPETUAL')).toEqual([1, 2, 3, 4]);
    expect(await value(metrics.duplicates, { by: 'trade_id' })).toBe(2);
    expect(await value(metrics.duplicates, { by: 'trade_seq' })).toBe(2);
  });

  it('back-fills a gap before the trade that revealed it, holding later trades of that instrument only', async () => {
    const release = source.holdFetches();
    await create().start();
    await source.push(trade('BTC-PERPETUAL', 10), trade('ETH-PERPETUAL', 1));
    await source.push(trade('BTC-PERPETUAL', 14), trade('ETH-PERPETUAL', 2));
    await source.push(trade('BTC-PERPETUAL', 15), trade('BTC-PERPETUAL', 15), trade('ETH-PERPETUAL', 3));
    await until('ETH written while BTC waits', () => seqsOf(publisher.written, 'ETH-PERPETUAL').length === 3);
    expect(seqsOf(publisher.written, 'BTC-PERPETUAL')).toEqual([10]);
    expect(forwarder.buffered).toBe(3);

    release();
    await until('BTC back-filled', () => seqsOf(publisher.written, 'BTC-PERPETUAL').length === 6);
    expect(seqsOf(publisher.written, 'BTC-PERPETUAL')).toEqual([10, 11, 12, 13, 14, 15]);
    expect(source.fetches).toEqual([['BTC-PERPETUAL', 11, 13]]);
    expect(await value(metrics.gaps)).toBe(1);
    expect(await value(metrics.missing)).toBe(3);
    expect(await value(metrics.backfilled)).toBe(3);
    expect(await value(metrics.unrecovered)).toBe(0);
    expect(await value(metrics.duplicates, { by: 'trade_id' })).toBe(1);
  });

  it('handles a second gap revealed by trades held during a back-fill', async () => {
    await create().start();
    await source.push(trade('X', 1), trade('X', 3), trade('X', 4), trade('X', 7));
    await until('7 trades', () => publisher.written.length === 7);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(source.fetches).toEqual([
      ['X', 2, 2],
      ['X', 5, 6],
    ]);
    expect(await value(metrics.gaps)).toBe(2);
  });

  it('falls back to a back-fill by time when sequence numbers do not reach', async () => {
    const exchange = [1, 2, 3, 4, 5].map((seq) => ({ ...trade('X', seq), timestamp: 1_000 + seq * 10 }));
    source.fetch = () => Promise.resolve([]); // the trade_seq query answers nothing
    source.fetchByTime = (_i, from, to) =>
      Promise.resolve(exchange.filter((t) => t.timestamp >= from && t.timestamp <= to).reverse());
    await create().start();
    await source.push(exchange[0], exchange[4]);
    await until('5 trades', () => publisher.written.length === 5);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 3, 4, 5]);
    // Between the last trade before the gap and the one that revealed it; the bounds come twice, once kept.
    expect(source.timeFetches).toEqual([['X', 1_010, 1_050]]);
    expect(await value(metrics.backfilled)).toBe(3);
    expect(await value(metrics.unrecovered)).toBe(0);
  });

  it('reports a gap it cannot fill and forwards the rest', async () => {
    await create({ backfillEnabled: false }).start();
    await source.push(trade('X', 1), trade('X', 5), trade('X', 6));
    await until('3 trades', () => publisher.written.length === 3);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 5, 6]);
    expect(source.fetches).toEqual([]);
    expect(await value(metrics.gaps)).toBe(1);
    expect(await value(metrics.unrecovered)).toBe(3);
  });

  it('gives up a failing back-fill at its deadline and releases the held trades', async () => {
    source.fetch = () => Promise.reject(new Error('not connected to Deribit'));
    await create({ backfillTimeoutMs: 200 }).start();
    await source.push(trade('X', 1), trade('X', 4), trade('X', 5));
    await until('3 trades', () => publisher.written.length === 3);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 4, 5]);
    expect(source.fetches.length).toBeGreaterThan(1);
    expect(await value(metrics.unrecovered)).toBe(2);
  });

  it('asks again later for what a failed back-fill missed, and publishes it late when the source answers', async () => {
    let failing = true;
    source.fetch = (i, from, to) =>
      failing
        ? Promise.reject(new Error('not connected to Deribit'))
        : Promise.resolve(Array.from({ length: to - from + 1 }, (_, k) => trade(i, from + k)));
    await create({ backfillTimeoutMs: 100, backfillRetryForMs: 60_000 }).start();
    const revealing = trade('X', 4);
    await source.push(trade('X', 1), revealing, trade('X', 5));
    // The held trades go on at the budget; 2 and 3 are still asked for.
    await until('3 trades', () => publisher.written.length === 3);
    expect(await value(metrics.backfillPending)).toBe(2);
    expect(await value(metrics.unrecovered)).toBe(0);
    // The stats record learns of them at once: a gap marker right after the revealing trade (1, 4 written).
    await until('the gap marker', () => publisher.gaps.length === 1);
    expect(publisher.gaps).toEqual([{ key: 'X', time: revealing.timestamp, count: 2, after: 2 }]);
    failing = false;
    await until('the late back-fill', () => publisher.written.length === 5, 10_000);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 4, 5, 2, 3]);
    // ...and a second one takes them off again, after them.
    await until('the marker taking them off', () => publisher.gaps.length === 2);
    expect(publisher.gaps[1]).toEqual({ key: 'X', time: revealing.timestamp, count: -2, after: 5 });
    expect(await value(metrics.backfillPending)).toBe(0);
    expect(await value(metrics.backfilled)).toBe(2);
    expect(await value(metrics.unrecovered)).toBe(0);
  });

  it('counts what a later back-fill never recovered as unrecovered, at the end of its time or at shutdown', async () => {
    source.fetch = () => Promise.reject(new Error('not connected to Deribit'));
    await create({ backfillTimeoutMs: 100, backfillRetryForMs: 60_000 }).start();
    await source.push(trade('X', 1), trade('X', 4));
    await until('2 trades', () => publisher.written.length === 2);
    expect(await value(metrics.backfillPending)).toBe(2);
    await forwarder.stop();
    expect(await value(metrics.backfillPending)).toBe(0);
    expect(await value(metrics.unrecovered)).toBe(2);
  });

  it('writes a gap marker at once for a gap it does not back-fill', async () => {
    await create({ backfillEnabled: false }).start();
    const revealing = trade('X', 7);
    await source.push(trade('X', 1), revealing);
    await until('the gap marker', () => publisher.gaps.length === 1);
    expect(publisher.gaps).toEqual([{ key: 'X', time: revealing.timestamp, count: 5, after: 2 }]);
    expect(await value(metrics.unrecovered)).toBe(5);
  });

  it('logs, counts and drops gap markers the publisher rejects, and writes the trades behind them', async () => {
    let refusals = 0;
    publisher.publishMarkers = (): Promise<void> => {
      refusals++;
      return Promise.reject(new PublishError('record refused by the topic', 'rejected'));
    };
    await create({ backfillEnabled: false }).start();
    await source.push(trade('X', 1), trade('X', 7));
    await until('the rejected marker', () => refusals === 1);
    await source.push(trade('X', 8), trade('X', 9));
    await until('the trades after it', () => publisher.written.length === 4);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 7, 8, 9]);
    expect(refusals).toBe(1);
    expect(await value(metrics.rejectedGapMarkers)).toBe(1);
    expect(await value(metrics.unrecovered)).toBe(5);
  });

  it('gives a gap up when backfillRetryForMs ends, not a whole backoff pause later', async () => {
    // The backoff draws its longest pauses (1 s, 2 s, 4 s, ...): after 1 + 2 s, the next would end at 7 s.
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.999);
    try {
      source.fetch = () => Promise.reject(new Error('not connected to Deribit'));
      await create({ backfillTimeoutMs: 50, backfillRetryForMs: 3_100 }).start();
      const started = Date.now();
      await source.push(trade('X', 1), trade('X', 4));
      await until('the gap given up', () => publisher.written.length === 2 && source.fetches.length > 0, 2_000);
      while ((await value(metrics.unrecovered)) < 2) await new Promise((r) => setTimeout(r, 20));
      const tookMs = Date.now() - started;
      expect(tookMs).toBeGreaterThanOrEqual(3_100);
      expect(tookMs).toBeLessThan(5_000);
    } finally {
      random.mockRestore();
    }
  }, 10_000);

  it('takes what a partial back-fill returns, in trade_seq order, and counts the rest unrecovered', async () => {
    // Out of order, one outside the gap, one of another instrument: 2 and 3 are taken, 4 is missing.
    source.fetch = (i) => Promise.resolve([trade(i, 3), trade(i, 2), trade(i, 99), trade('Y', 2)]);
    await create().start();
    await source.push(trade('X', 1), trade('X', 5));
    await until('4 trades', () => publisher.written.length === 4);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 3, 5]);
    expect(await value(metrics.backfilled)).toBe(2);
    expect(await value(metrics.unrecovered)).toBe(1);
  });

  it('only fetches the newest BACKFILL_MAX_TRADES of a larger gap', async () => {
    await create({ backfillMaxTrades: 5 }).start();
    await source.push(trade('X', 1), trade('X', 100));
    await until('7 trades', () => publisher.written.length === 7);
    expect(source.fetches).toEqual([['X', 95, 99]]);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 95, 96, 97, 98, 99, 100]);
    expect(await value(metrics.unrecovered)).toBe(93);
  });

  it('retries a failed publish without losing or reordering trades', async () => {
    publisher.failures = 3;
    await create({ publishBatchMax: 2 }).start();
    await source.push(...[1, 2, 3, 4, 5].map((s) => trade('X', s)));
    await until('5 trades', () => publisher.written.length === 5);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 3, 4, 5]);
    expect(await value(metrics.publishFailures)).toBe(3);
    expect(await value(metrics.produced)).toBe(5);
  });

  it('writes the rest of a batch around a trade the publisher rejects as unwritable', async () => {
    const poison = trade('X', 3);
    const publish = publisher.publish.bind(publisher);
    publisher.publish = async <T>(topic: TopicSpec<T>, values: readonly T[]): Promise<void> => {
      if (values.includes(poison as T)) throw new PublishError('cannot encode', 'rejected');
      return publish(topic, values);
    };
    await create({ publishBatchMax: 10 }).start();
    await source.push(...[1, 2].map((s) => trade('X', s)), poison, ...[4, 5].map((s) => trade('X', s)));
    await until('4 trades', () => publisher.written.length === 4);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 4, 5]);
    expect(await value(metrics.rejected)).toBe(1);
  });

  it('makes the source wait while too many trades are buffered', async () => {
    let open: () => void = () => undefined;
    publisher.gate = new Promise<void>((r) => (open = r));
    await create({ maxQueuedTrades: 3, publishBatchMax: 1 }).start();
    await source.push(trade('X', 1));
    await source.push(trade('X', 2), trade('X', 3));
    let accepted = false;
    const pushed = source.push(trade('X', 4)).then(() => (accepted = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(accepted).toBe(false);
    open();
    await pushed;
    await until('4 trades', () => publisher.written.length === 4);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 3, 4]);
  });

  it('does not make the source wait for trades held by a back-fill (the answer must get through)', async () => {
    const release = source.holdFetches();
    await create({ maxQueuedTrades: 2 }).start();
    await source.push(trade('X', 1), trade('X', 5));
    await source.push(...[6, 7, 8, 9].map((s) => trade('X', s)));
    expect(forwarder.buffered).toBe(5);
    release();
    await until('9 trades', () => publisher.written.length === 9);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('on stop, stops the source first and writes what is buffered', async () => {
    await create({ publishBatchMax: 1 }).start();
    publisher.failures = 1;
    void source.push(...[1, 2, 3].map((s) => trade('X', s)));
    await forwarder.stop();
    expect(source.stopped).toBe(true);
    expect(seqsOf(publisher.written, 'X')).toEqual([1, 2, 3]);
  });

  it('gives up writing at the shutdown deadline when Kafka stays down', async () => {
    await create({ shutdownTimeoutMs: 100, publishRetryBaseMs: 5_000, publishRetryMaxMs: 5_000 }).start();
    publisher.failures = Number.MAX_SAFE_INTEGER;
    await source.push(trade('X', 1));
    const started = Date.now();
    await forwarder.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(publisher.written).toEqual([]);
  });

  describe("the source's watermark", () => {
    it('is written after the trades queued before it, once per known instrument, and only forward', async () => {
      await create().start();
      source.clock = 1_000;
      forwarder.markWatermark(); // no instrument known yet: nothing to write
      await new Promise((r) => setTimeout(r, 20));
      expect(publisher.watermarks).toEqual([]);
      await source.push(trade('A', 1), trade('B', 1), trade('A', 2));
      source.clock = 2_000;
      forwarder.markWatermark();
      await until('watermarks written', () => publisher.watermarks.length === 2);
      expect(publisher.watermarks).toEqual([
        { key: 'A', time: 2_000, after: 3 },
        { key: 'B', time: 2_000, after: 3 },
      ]);
      source.clock = 1_500; // never backwards
      forwarder.markWatermark();
      source.clock = undefined; // the source cannot say (not connected)
      forwarder.markWatermark();
      await new Promise((r) => setTimeout(r, 20));
      expect(publisher.watermarks).toHaveLength(2);
      expect(await value(metrics.watermark)).toBe(2);
    });

    it('is held while a gap is back-filled, so no trade it covers comes after it', async () => {
      const release = source.holdFetches();
      await create().start();
      await source.push(trade('A', 1), trade('A', 4));
      source.clock = 5_000;
      forwarder.markWatermark();
      await new Promise((r) => setTimeout(r, 20));
      expect(publisher.watermarks).toEqual([]);
      release();
      await until('back-filled', () => publisher.written.length === 4);
      forwarder.markWatermark();
      await until('watermark written', () => publisher.watermarks.length === 1);
      expect(publisher.watermarks).toEqual([{ key: 'A', time: 5_000, after: 4 }]);
    });

    it('after a (re)subscription, is held until every known instrument caught up on what it missed', async () => {
      // The exchange's trades of quiet instrument Q: 1-2 were seen, 3-4 were made while away.
      const exchange = [1, 2, 3, 4].map((seq) => trade('Q', seq));
      source.fetch = (_i, from, to) =>
        Promise.resolve(exchange.filter((t) => t.trade_seq >= from && t.trade_seq <= to));
      const release = source.holdFetches();
      await create().start();
      await source.push(exchange[0], exchange[1]);
      await until('2 written', () => publisher.written.length === 2);
      source.listener!.onEvent({ type: 'subscribed', channels: ['trades.Q.raw'] });
      await source.push(trade('Q', 5)); // live again: waits for the catch-up
      source.clock = 9_000;
      forwarder.markWatermark();
      await new Promise((r) => setTimeout(r, 20));
      expect(publisher.watermarks).toEqual([]);
      expect(seqsOf(publisher.written, 'Q')).toEqual([1, 2]);

      release();
      await until('caught up', () => publisher.written.length === 5);
      expect(seqsOf(publisher.written, 'Q')).toEqual([1, 2, 3, 4, 5]);
      expect(source.fetches).toEqual([['Q', 3, 102]]); // one page, up to BACKFILL_MAX_TRADES
      expect(await value(metrics.gaps)).toBe(1);
      expect(await value(metrics.backfilled)).toBe(2);
      forwarder.markWatermark();
      await until('watermark written', () => publisher.watermarks.length === 1);
      expect(publisher.watermarks).toEqual([{ key: 'Q', time: 9_000, after: 5 }]);
    });

    it('catches up at most 4 instruments at a time, and none quiet for over an hour before the newest trade', async () => {
      let inFlight = 0;
      let maxInFlight = 0;
      source.fetch = async () => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, 10));
        inFlight--;
        return [];
      };
      await create().start();
      const now = Date.now();
      const active = ['A', 'B', 'C', 'D', 'E', 'F'];
      await source.push(
        { ...trade('QUIET', 1), timestamp: now - 3_600_001 - 1_000 },
        ...active.map((i) => ({ ...trade(i, 1), timestamp: now - 1_000 })),
      );
      await until('7 written', () => publisher.written.length === 7);
      source.listener!.onEvent({ type: 'subscribed', channels: ['trades.any'] });
      await until('6 catch-ups', () => source.fetches.length === 6 && inFlight === 0);
      await new Promise((r) => setTimeout(r, 20));
      expect(source.fetches.map(([i]) => i).sort()).toEqual(active);
      expect(maxInFlight).toBe(4);
      expect(await value(metrics.gaps)).toBe(0); // nothing was missing
    });

    it('is written on its own schedule when asked to', async () => {
      source.clock = 3_000;
      await create({ watermarkIntervalMs: 10 }).start();
      await source.push(trade('A', 1));
      await until('watermark written', () => publisher.watermarks.length >= 1);
      expect(publisher.watermarks[0]).toEqual({ key: 'A', time: 3_000, after: 1 });
    });
  });

  describe('after a restart (what the topic holds is read back first)', () => {
    it('drops what was already published when the source delivers it again (a replay re-read from the start)', async () => {
      published.trades = [1, 2, 3, 4, 5].map((s) => trade('X', s));
      await create({ dedupeCapacity: 3 }).start();
      expect(published.asked).toEqual([1_000]);
      // The replay starts over: 1 and 2 have left the restored id window of 3, and are stale by trade_seq.
      await source.push(...[1, 2, 3, 4, 5, 6, 7].map((s) => trade('X', s)));
      await until('2 trades', () => publisher.written.length === 2);
      await forwarder.stop();
      expect(seqsOf(publisher.written, 'X')).toEqual([6, 7]);
      // Each re-delivered trade enters the small id window and pushes the restored ids out: trade_seq drops them.
      expect(await value(metrics.duplicates, { by: 'trade_id' })).toBe(0);
      expect(await value(metrics.duplicates, { by: 'trade_seq' })).toBe(5);
      expect(await value(metrics.restoredInstruments)).toBe(1);
    });

    it('sees the hole left by trades lost in the crash as a gap, and back-fills it (live source)', async () => {
      published.trades = [trade('X', 10), trade('Y', 3), trade('X', 11)];
      await create().start();
      await source.push(trade('X', 15), trade('Y', 4));
      await until('5 trades', () => publisher.written.length === 5);
      expect(source.fetches).toEqual([['X', 12, 14]]);
      expect(seqsOf(publisher.written, 'X')).toEqual([12, 13, 14, 15]);
      expect(seqsOf(publisher.written, 'Y')).toEqual([4]);
      expect(await value(metrics.gaps)).toBe(1);
      expect(await value(metrics.backfilled)).toBe(3);
    });

    it('restores the newest watermark whatever order partitions come back in', async () => {
      published.trades = [trade('X', 8), trade('X', 9), trade('X', 3)];
      await create().start();
      await source.push(trade('X', 9), trade('X', 10));
      await until('1 trade', () => publisher.written.length === 1);
      expect(seqsOf(publisher.written, 'X')).toEqual([10]);
      expect(await value(metrics.duplicates, { by: 'trade_id' })).toBe(1);
    });

    it('retries a failed read-back before starting the source', async () => {
      published.failures = 2;
      published.trades = [trade('X', 1)];
      await create().start();
      expect(published.asked).toHaveLength(3);
      await source.push(trade('X', 1), trade('X', 2));
      await until('1 trade', () => publisher.written.length === 1);
      expect(seqsOf(publisher.written, 'X')).toEqual([2]);
    });

    it('does not start at all when the topic cannot be read back in time', async () => {
      published.failures = Number.MAX_SAFE_INTEGER;
      await expect(create({ restoreTimeoutMs: 300 }).start()).rejects.toThrow(/TRADE_RESTORE_TIMEOUT_MS/);
      expect(source.listener).toBeUndefined();
    });
  });
});
