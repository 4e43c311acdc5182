/**
 * Trades per second through agg-producer's processor alone (no transport): batches of decoded trades in,
 * closed windows and changelog records out, a unit of work taken whenever windows close (as the runner
 * commits). Bounded by count and time.
 *
 *   npx tsx bench/agg-producer/processor.bench.ts [trades=2000000] [seconds=20] [revisionWindows=10]
 *
 * revisionWindows is agg-producer's REVISION_WINDOWS (its default, 10): published windows kept per
 * instrument, in memory and in every changelog record of the instrument; 0 keeps none.
 */
import { TradeWindowRules } from '@lib/domain';
import { ConsumedBatch } from '@lib/kafka-avro/messaging';
import { DeribitTrade } from '@lib/domain';
import { TradeStatsProcessor } from '../../apps/agg-producer/src/trade-stats.processor';
import { tradeStream } from '../../test/agg-producer/support/trades';

const BATCH = 500;

function instruments(n: number) {
  return Array.from({ length: n }, (_, i) => ({ name: `BTC-INSTR-${i}`, price: 100 + i, weight: 1 + (i % 7) }));
}

function main(): void {
  const total = Number(process.argv[2] ?? 2_000_000);
  const seconds = Number(process.argv[3] ?? 20);
  const revisionWindows = Number(process.argv[4] ?? 10);
  // 200 instruments, ~10 000 trades a minute of event time: many windows close during the run.
  const trades = tradeStream({
    startMs: Date.parse('2026-03-01T00:00:00Z'),
    count: Math.min(total, 500_000),
    meanGapMs: 6,
    seed: 1,
    instruments: instruments(200),
  });
  const batches: ConsumedBatch<DeribitTrade>[] = [];
  for (let i = 0; i < trades.length; i += BATCH) {
    const slice = trades.slice(i, i + BATCH);
    batches.push({
      topic: 'deribit-trades',
      partition: 0,
      messages: slice.map((value, j) => ({
        topic: 'deribit-trades',
        partition: 0,
        offset: String(i + j),
        key: value.instrument_name,
        value,
        headers: {},
        timestamp: value.timestamp,
      })),
      nextOffset: String(i + slice.length),
      lag: trades.length - i - slice.length,
    });
  }

  const rules = new TradeWindowRules({
    windowMs: 60_000,
    graceMs: 2_000,
    ewma: { mode: 'span', span: 20 },
    revisionWindows,
  });
  let processed = 0;
  let windows = 0;
  let units = 0;
  const deadline = Date.now() + seconds * 1_000;
  const t0 = process.hrtime.bigint();
  // Each pass is a fresh processor over the same stream (times never go backwards within one).
  while (processed < total && Date.now() < deadline) {
    const processor = new TradeStatsProcessor(rules);
    for (const batch of batches) {
      processor.process(batch, 0);
      processed += batch.messages.length;
      if (processor.closedWindows > 0) {
        const work = processor.takeWork();
        windows += work?.stats.length ?? 0;
        units += 1;
      }
      if (processed >= total || Date.now() >= deadline) break;
    }
  }
  const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(
    `agg-producer processor: ${processed} trades in ${elapsedS.toFixed(2)} s = ` +
      `${Math.round(processed / elapsedS).toLocaleString('en-US')} trades/s ` +
      `(${windows} windows closed, ${units} units of work, batches of ${BATCH}, 200 instruments, ` +
      `${revisionWindows} revision windows)`,
  );
}

main();
