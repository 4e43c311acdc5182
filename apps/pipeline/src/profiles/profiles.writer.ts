import { ProfileStore, UserTag } from '@lib/domain';
import { ConsumedBatch } from '@lib/kafka-avro/messaging';
import { Injectable } from '@nestjs/common';
import { InjectMetric, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { Histogram } from 'prom-client';

export const PROFILE_BATCH_SIZE = 'pipeline_profile_batch_size';
export const PROFILE_WRITE_DURATION = 'pipeline_profile_write_duration_seconds';

export const profileMetrics = [
  makeHistogramProvider({
    name: PROFILE_BATCH_SIZE,
    help: 'Tags per profile store write',
    buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000],
  }),
  makeHistogramProvider({
    name: PROFILE_WRITE_DURATION,
    help: 'Duration of one batched profile store write',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  }),
];

/**
 * Appends each consumed batch to the ProfileStore (one write per touched list, see the store). The
 * store is idempotent, so a batch delivered again after a crash or a rebalance changes nothing.
 */
@Injectable()
export class ProfilesWriter {
  constructor(
    private readonly store: ProfileStore,
    @InjectMetric(PROFILE_BATCH_SIZE) private readonly batchSize: Histogram,
    @InjectMetric(PROFILE_WRITE_DURATION) private readonly writeDuration: Histogram,
  ) {}

  async write(batch: ConsumedBatch<UserTag>): Promise<void> {
    if (batch.messages.length === 0) return;
    const stop = this.writeDuration.startTimer();
    await this.store.append(batch.messages.map((m) => m.value));
    stop();
    this.batchSize.observe(batch.messages.length);
  }
}
