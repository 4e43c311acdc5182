import { counter, gauge, histogram } from '@lib/platform/metrics/metric';
import { Counter, Gauge, Histogram, Registry, register as defaultRegistry } from 'prom-client';
import { CLOSE_REASONS, CloseReason } from './trade-stats.processor';

/**
 * agg-producer's metrics, recorded by the runner around the processor (which itself only computes).
 * Windows count once published, that is once their transaction committed.
 */
export class AggProducerMetrics {
  readonly tradesConsumed: Counter;
  readonly windowsPublished: Counter<'reason'>;
  readonly lateTrades: Counter;
  readonly duplicateTrades: Counter;
  readonly unplacedUnrecovered: Counter;
  readonly ewma: Gauge<'instrument'>;
  readonly instruments: Gauge;
  readonly transactionSeconds: Histogram;
  readonly restoreSeconds: Histogram;
  readonly restoredRecords: Counter;
  readonly failures: Counter<'stage'>;

  constructor(registry: Registry = defaultRegistry) {
    this.tradesConsumed = counter(
      {
        name: 'agg_producer_trades_consumed_total',
        help: 'Trades read from the trades topic, late ones included',
      },
      registry,
    );
    this.windowsPublished = counter(
      {
        name: 'agg_producer_windows_published_total',
        help: 'Window statistics committed to the stats topic, by what closed the window: event-time (a later trade) or idle (the scheduled check)',
        labelNames: ['reason'] as const,
      },
      registry,
    );
    this.lateTrades = counter(
      {
        name: 'agg_producer_late_trades_total',
        help: 'Trades refused because their window was already published and is no longer kept for revisions (REVISION_WINDOWS)',
      },
      registry,
    );
    this.duplicateTrades = counter(
      {
        name: 'agg_producer_duplicate_trades_total',
        help: 'Trades left out because the same instrument and trade_seq was already counted (a trade published twice)',
      },
      registry,
    );
    this.unplacedUnrecovered = counter(
      {
        name: 'agg_producer_unrecovered_unplaced_total',
        help: "Unrecovered trades (raw-producer's gap markers) not put into any window: the window of the trade that revealed the gap was past REVISION_WINDOWS",
      },
      registry,
    );
    this.ewma = gauge(
      {
        name: 'agg_producer_ewma',
        help: 'EWMA of the trade price at the end of the newest published window, per instrument',
        labelNames: ['instrument'] as const,
      },
      registry,
    );
    this.instruments = gauge(
      { name: 'agg_producer_instruments', help: 'Instruments whose state this process holds' },
      registry,
    );
    this.transactionSeconds = histogram(
      {
        name: 'agg_producer_transaction_duration_seconds',
        help: 'Duration of one transaction: statistics, changelog and consumed offsets',
        buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      },
      registry,
    );
    this.restoreSeconds = histogram(
      {
        name: 'agg_producer_state_restore_duration_seconds',
        help: 'Duration of reading the changelog to its end on partition assignment',
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      },
      registry,
    );
    this.restoredRecords = counter(
      {
        name: 'agg_producer_state_restored_records_total',
        help: 'Changelog records read while restoring state',
      },
      registry,
    );
    this.failures = counter(
      {
        name: 'agg_producer_failures_total',
        help: 'Failures that made the processor rebuild its state from Kafka, by stage (transaction, restore, consumer)',
        labelNames: ['stage'] as const,
      },
      registry,
    );
  }

  published(byReason: Readonly<Record<CloseReason, number>>): void {
    for (const reason of CLOSE_REASONS) {
      if (byReason[reason] > 0) this.windowsPublished.inc({ reason }, byReason[reason]);
    }
  }
}
