import { PipelineConfig } from '@lib/config';
import { UserTag } from '@lib/domain';
import { ConsumedBatch, ConsumerHandle, MessageConsumer, TopicSpec } from '@lib/kafka-avro/messaging';
import { ReadinessRegistry } from '@lib/platform';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { MinuteCubeAggregator } from './aggregates/minute-cube.aggregator';
import { ProfilesWriter } from './profiles/profiles.writer';
import { USER_TAGS_TOPIC } from '@lib/kafka-avro';

/**
 * The pipeline's one read of the user-tag stream: each batch is decoded once, appended to the
 * profiles, then counted into the minute cube.
 *
 * Offsets are the aggregator's, kept in PostgreSQL with the cube deltas (exactly once). Profiles
 * ride on them: a batch is appended to the profiles BEFORE it is counted, so every offset a flush
 * stores is already in the profiles; after a crash the stream resumes from the stored offsets and
 * appends a few batches to the profiles again, which changes nothing (the store is idempotent).
 * A failed append throws: the consumer retries the batch with backoff and the aggregator counts
 * each offset once whatever is redelivered.
 */
@Injectable()
export class UserTagsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('user-tags');
  private handle: ConsumerHandle | undefined;

  constructor(
    private readonly config: PipelineConfig,
    private readonly consumer: MessageConsumer,
    @Inject(USER_TAGS_TOPIC) private readonly topic: TopicSpec<UserTag>,
    private readonly readiness: ReadinessRegistry,
    private readonly profiles: ProfilesWriter,
    private readonly aggregator: MinuteCubeAggregator,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.readiness.register('user-tags-consumer', () => {
      if (!this.handle?.isRunning()) throw new Error('not consuming');
    });
    this.handle = await this.consumer.start({
      groupId: this.config.AGGREGATES_GROUP_ID,
      topic: this.topic,
      fromBeginning: true,
      resumeFrom: (partitions) => this.aggregator.resume(partitions),
      onRevoked: (partitions) => this.aggregator.revoke(partitions),
      onBatch: (batch) => this.process(batch),
      onStopping: () => this.aggregator.stop(),
      fetchBatching: { minBytes: this.config.PIPELINE_FETCH_MIN_BYTES, maxWaitMs: this.config.PIPELINE_FETCH_WAIT_MS },
      partitionsConsumedConcurrently: this.config.PIPELINE_PARTITIONS_CONCURRENTLY,
    });
    this.aggregator.start(this.handle);
    this.logger.log(`consuming ${this.topic.name} as group ${this.config.AGGREGATES_GROUP_ID}`);
  }

  private async process(batch: ConsumedBatch<UserTag>): Promise<void> {
    await this.profiles.write(batch);
    await this.aggregator.accumulate(batch);
  }

  /**
   * Stop fetching, finish the batch in hand, flush (onStopping: while still in the group, so the
   * flushed offsets are recorded in Kafka too), leave. Nothing counted in memory is left behind.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.handle?.stop();
  }
}
