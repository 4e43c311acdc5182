import { ProfileStore, UserTag } from '@lib/domain';
import { ConsumedBatch } from '@lib/kafka-avro/messaging';
import { Injectable } from '@nestjs/common';
import { histogram } from '@lib/platform';

interface Waiting {
  readonly tags: readonly UserTag[];
  readonly done: { resolve(): void; reject(err: unknown): void };
}

/**
 * Appends consumed batches to the ProfileStore (one write per touched list, see the store), as a
 * group commit: partitions processed at the same time hand in their batches, and every batch that
 * arrives while a write runs goes out together in the next one, so a round of N partitions costs
 * one store append, not N. A batch's promise settles with the append that carried it; a failure
 * fails every batch of that append, and each is retried by its consumer. The store is idempotent,
 * so a batch delivered again after a crash or a rebalance changes nothing.
 */
@Injectable()
export class ProfilesWriter {
  private waiting: Waiting[] = [];
  private writing = false;
  private readonly batchSize = histogram({
    name: 'pipeline_profile_batch_size',
    help: 'Tags per profile store write',
    buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000],
  });
  private readonly writeDuration = histogram({
    name: 'pipeline_profile_write_duration_seconds',
    help: 'Duration of one batched profile store write',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });

  constructor(private readonly store: ProfileStore) {}

  write(batch: ConsumedBatch<UserTag>): Promise<void> {
    if (batch.messages.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ tags: batch.messages.map((m) => m.value), done: { resolve, reject } });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.waiting.length > 0) {
      const group = this.waiting;
      this.waiting = [];
      const tags = group.length === 1 ? group[0].tags : group.flatMap((w) => w.tags);
      const stop = this.writeDuration.startTimer();
      try {
        await this.store.append(tags);
        stop();
        this.batchSize.observe(tags.length);
        for (const w of group) w.done.resolve();
      } catch (err) {
        for (const w of group) w.done.reject(err);
      }
    }
    this.writing = false;
  }
}
