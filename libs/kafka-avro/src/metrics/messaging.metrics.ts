import { counter, gauge, histogram } from '@lib/platform/metrics/metric';
import type { Counter, Gauge, Histogram } from 'prom-client';

/**
 * The library's Prometheus metrics, in the default registry that /metrics serves (get-or-create, see
 * libs/platform's metric helpers).
 */
export const dlqMessages = (): Counter<'topic'> =>
  counter({
    name: 'kafka_dlq_messages_total',
    help: 'Messages that could not be decoded and were sent to <topic>.dlq, by original topic',
    labelNames: ['topic'],
  });

export const consumerLag = (): Gauge<'group' | 'topic' | 'partition'> =>
  gauge({
    name: 'kafka_consumer_lag',
    help: 'Messages behind the end of the partition after the last batch handed to the consumer',
    labelNames: ['group', 'topic', 'partition'],
  });

export const consumerBatchSize = (): Histogram<'group' | 'topic'> =>
  histogram({
    name: 'kafka_consumer_batch_messages',
    help: 'Messages per batch handed to onBatch',
    labelNames: ['group', 'topic'],
    buckets: [1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000],
  });

export const consumerBatchFailures = (): Counter<'group' | 'topic'> =>
  counter({
    name: 'kafka_consumer_batch_failures_total',
    help: 'onBatch calls that threw (the batch is retried with backoff)',
    labelNames: ['group', 'topic'],
  });

export const producerRequestSize = (): Histogram<never> =>
  histogram({
    name: 'kafka_producer_request_messages',
    help: 'Messages per produce request of the coalescing publisher',
    buckets: [1, 5, 10, 50, 100, 500, 1_000, 5_000, 10_000],
  });

export const publishFailures = (): Counter<'reason'> =>
  counter({
    name: 'kafka_publish_failures_total',
    help: 'publish calls rejected with PublishError, by reason (timeout, unavailable, rejected)',
    labelNames: ['reason'],
  });
