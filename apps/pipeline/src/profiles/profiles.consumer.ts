import { PipelineConfig } from '@lib/config';
import { ProfileStore, UserTag } from '@lib/domain';
import { ConsumedBatch, ConsumerHandle, MessageConsumer, TopicSpec } from '@lib/kafka-avro/messaging';
import { ReadinessRegistry } from '@lib/platform';
import { Inject, Injectable, Logger, BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { InjectMetric, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { Histogram } from 'prom-client';
import { USER_TAGS_TOPIC } from '../user-tags.topic';

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
 * The profiles consumer group: each batch of user tags is appended to the ProfileStore, and the
 * batch's offsets are committed only after the store has it. The store is idempotent, so a batch
 * replayed after a crash between write and commit changes nothing.
 */
@Injectable()
export class ProfilesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('profiles');
  private handle: ConsumerHandle | undefined;

  constructor(
    private readonly config: PipelineConfig,
    private readonly consumer: MessageConsumer,
    private readonly store: ProfileStore,
    @Inject(USER_TAGS_TOPIC) private readonly topic: TopicSpec<UserTag>,
    private readonly readiness: ReadinessRegistry,
    @InjectMetric(PROFILE_BATCH_SIZE) private readonly batchSize: Histogram,
    @InjectMetric(PROFILE_WRITE_DURATION) private readonly writeDuration: Histogram,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.readiness.register('profiles-consumer', () => {
      if (!this.handle?.isRunning()) throw new Error('not consuming');
    });
    this.handle = await this.consumer.start({
      groupId: this.config.PROFILES_GROUP_ID,
      topic: this.topic,
      fromBeginning: true,
      onBatch: (batch) => this.write(batch),
    });
    this.logger.log(`consuming ${this.topic.name} as group ${this.config.PROFILES_GROUP_ID}`);
  }

  private async write(batch: ConsumedBatch<UserTag>): Promise<void> {
    if (batch.messages.length === 0) return;
    const stop = this.writeDuration.startTimer();
    await this.store.append(batch.messages.map((m) => m.value));
    stop();
    this.batchSize.observe(batch.messages.length);
  }

  /** Before clients close (onApplicationShutdown): finish the batch in hand, commit, leave. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.handle?.stop();
  }
}
