import { Counter, Gauge, Histogram, Metric, register as defaultRegistry, Registry } from 'prom-client';

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
  readonly reconnects: Counter<never>;
  readonly malformed: Counter<'what'>;
  readonly rpcErrors: Counter<'code'>;
  readonly heartbeats: Counter<never>;
  readonly publishFailures: Counter<never>;
  readonly rejected: Counter<never>;
  readonly buffered: Gauge<never>;
  readonly restoredInstruments: Gauge<never>;
  readonly lag: Histogram<never>;

  constructor(readonly registry: Registry = defaultRegistry) {
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> =>
      this.existing<Counter<L>>(name) ?? new Counter<L>({ name, help, labelNames, registers: [registry] });
    this.received = counter('deribit_trades_received_total', 'Valid trades received from the source');
    this.produced = counter('deribit_trades_produced_total', 'Trades written to Kafka (acknowledged)');
    this.duplicates = counter(
      'deribit_trades_duplicate_total',
      'Trades dropped as already forwarded, by what recognised them',
      ['by'],
    );
    this.gaps = counter('deribit_trade_seq_gaps_total', 'trade_seq gaps detected (one per jump, whatever its size)');
    this.missing = counter('deribit_trades_missing_total', 'Trades missing from detected trade_seq gaps');
    this.backfilled = counter('deribit_trades_backfilled_total', 'Missing trades recovered by back-fill');
    this.unrecovered = counter(
      'deribit_trades_unrecovered_total',
      'Missing trades not recovered (back-fill disabled, failed, or the server no longer has them)',
    );
    this.reconnects = counter('deribit_source_reconnects_total', 'Reconnection attempts of the source');
    this.malformed = counter('deribit_malformed_total', 'Frames or trades that could not be used, skipped', ['what']);
    this.rpcErrors = counter('deribit_rpc_errors_total', 'JSON-RPC errors from the server, by code', ['code']);
    this.heartbeats = counter('deribit_heartbeats_answered_total', 'test_request heartbeats answered with public/test');
    this.publishFailures = counter('deribit_publish_failures_total', 'Failed publish attempts (each is retried)');
    this.rejected = counter(
      'deribit_trades_rejected_total',
      'Trades the publisher refused as unwritable (not retried; logged in full)',
    );
    this.buffered =
      this.existing<Gauge<never>>('deribit_trades_buffered') ??
      new Gauge({
        name: 'deribit_trades_buffered',
        help: 'Trades received and not yet written to Kafka (queued or waiting for a back-fill)',
        registers: [registry],
      });
    this.restoredInstruments =
      this.existing<Gauge<never>>('deribit_restored_instruments') ??
      new Gauge({
        name: 'deribit_restored_instruments',
        help: 'Instruments whose last published trade_seq was read back from the topic at start-up',
        registers: [registry],
      });
    this.lag =
      this.existing<Histogram<never>>('deribit_trade_lag_seconds') ??
      new Histogram({
        name: 'deribit_trade_lag_seconds',
        help: "Time from a trade's timestamp to its acknowledged write to Kafka",
        buckets: LAG_BUCKETS,
        registers: [registry],
      });
  }

  private existing<M extends Metric>(name: string): M | undefined {
    return this.registry.getSingleMetric(name) as M | undefined;
  }
}
