import { counter, gauge, histogram } from '@lib/platform/metrics/metric';
import { Counter, Gauge, Histogram, register as defaultRegistry, Registry } from 'prom-client';

/** Seconds between a trade's timestamp and its acknowledged write to Kafka: from tens of ms to minutes. */
const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The raw-producer's metrics. Get-or-create on the registry, so that several instances of the module in
 * one process (embedded mode, tests) share them instead of failing on a duplicate name.
 */
export class RawProducerMetrics {
  readonly received: Counter<never>;
  readonly produced: Counter<never>;
  readonly duplicates: Counter<'by'>;
  readonly gaps: Counter<never>;
  readonly missing: Counter<never>;
  readonly backfilled: Counter<never>;
  readonly unrecovered: Counter<never>;
  readonly backfillPending: Gauge<never>;
  readonly reconnects: Counter<never>;
  readonly malformed: Counter<'what'>;
  readonly rpcErrors: Counter<'code'>;
  readonly heartbeats: Counter<never>;
  readonly publishFailures: Counter<never>;
  readonly rejected: Counter<never>;
  readonly rejectedGapMarkers: Counter<never>;
  readonly buffered: Gauge<never>;
  readonly restoredInstruments: Gauge<never>;
  readonly watermark: Gauge<never>;
  readonly lag: Histogram<never>;

  constructor(readonly registry: Registry = defaultRegistry) {
    const count = <L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> =>
      counter<L>({ name, help, labelNames }, registry);
    this.received = count('deribit_trades_received_total', 'Valid trades received from the source');
    this.produced = count('deribit_trades_produced_total', 'Trades written to Kafka (acknowledged)');
    this.duplicates = count(
      'deribit_trades_duplicate_total',
      'Trades dropped as already forwarded, by what recognised them',
      ['by'],
    );
    this.gaps = count('deribit_trade_seq_gaps_total', 'trade_seq gaps detected (one per jump, whatever its size)');
    this.missing = count('deribit_trades_missing_total', 'Trades missing from detected trade_seq gaps');
    this.backfilled = count('deribit_trades_backfilled_total', 'Missing trades recovered by back-fill');
    this.unrecovered = count(
      'deribit_trades_unrecovered_total',
      'Missing trades not recovered for good (back-fill disabled, or failed and retried for BACKFILL_RETRY_FOR_MS, or the server no longer has them)',
    );
    this.reconnects = count('deribit_source_reconnects_total', 'Reconnection attempts of the source');
    this.malformed = count('deribit_malformed_total', 'Frames or trades that could not be used, skipped', ['what']);
    this.rpcErrors = count('deribit_rpc_errors_total', 'JSON-RPC errors from the server, by code', ['code']);
    this.heartbeats = count('deribit_heartbeats_answered_total', 'test_request heartbeats answered with public/test');
    this.publishFailures = count('deribit_publish_failures_total', 'Failed publish attempts (each is retried)');
    this.rejected = count(
      'deribit_trades_rejected_total',
      'Trades the publisher refused as unwritable (not retried; logged in full)',
    );
    this.rejectedGapMarkers = count(
      'deribit_gap_markers_rejected_total',
      'Gap markers the publisher refused as unwritable (not retried; logged in full): the stats records of their windows miss those unrecovered trades',
    );
    this.buffered = gauge<never>(
      {
        name: 'deribit_trades_buffered',
        help: 'Trades received and not yet written to Kafka (queued or waiting for a back-fill)',
      },
      registry,
    );
    this.backfillPending = gauge<never>(
      {
        name: 'deribit_backfill_pending_trades',
        help: 'Missing trades a short back-fill asks for again in the background (BACKFILL_RETRY_FOR_MS): recovered late, or counted unrecovered',
      },
      registry,
    );
    this.watermark = gauge<never>(
      {
        name: 'deribit_source_watermark_seconds',
        help: 'Last source watermark written to the trades topic (epoch s): every trade up to it was written before it',
      },
      registry,
    );
    this.restoredInstruments = gauge<never>(
      {
        name: 'deribit_restored_instruments',
        help: 'Instruments whose last published trade_seq was read back from the topic at start-up',
      },
      registry,
    );
    this.lag = histogram<never>(
      {
        name: 'deribit_trade_lag_seconds',
        help: "Time from a trade's timestamp to its acknowledged write to Kafka",
        buckets: LAG_BUCKETS,
      },
      registry,
    );
  }
}
