import { Logger } from '@nestjs/common';
import { decodeBatch } from '@lib/kafka-avro/consuming/batch-decoder';
import { DeadLetter, DeadLetterSink } from '@lib/kafka-avro/dead-letter/dead-letter';
import { ConsumedBatch, ConsumerHandle, ConsumerOptions, MessageConsumer } from '@lib/kafka-avro/messaging';
import { consumerBatchFailures, consumerBatchSize, consumerLag } from '@lib/kafka-avro/metrics/messaging.metrics';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { inBatchSpan } from '@lib/kafka-avro/tracing/tracing.setup';
import { InMemoryBroker } from './in-memory.broker';
import { InMemorySubscription } from './in-memory.subscription';

const DEFAULT_MAX_BATCH = 1_000;

/** Writes dead letters to `<topic>.dlq` of the in-memory log. */
export class InMemoryDeadLetterSink extends DeadLetterSink {
  constructor(private readonly broker: InMemoryBroker) {
    super();
  }

  protected override async write(letter: DeadLetter): Promise<void> {
    await this.broker.append([
      {
        topic: letter.topic,
        key: letter.key === null ? '' : letter.key.toString(),
        value: letter.value ?? Buffer.alloc(0),
        headers: letter.headers,
      },
    ]);
  }
}

/** MessageConsumer of the embedded mode, on the in-memory log, with the same serde and dead letters. */
export class InProcessMessageConsumer extends MessageConsumer {
  private readonly subscriptions = new Set<InMemorySubscription>();
  private readonly logger = new Logger('InProcessConsumer');

  constructor(
    private readonly broker: InMemoryBroker,
    private readonly serde: AvroSerde,
    private readonly deadLetters: DeadLetterSink,
  ) {
    super();
  }

  override async start<T>(opts: ConsumerOptions<T>): Promise<ConsumerHandle> {
    const labels = { group: opts.groupId, topic: opts.topic.name };
    const subscription = new InMemorySubscription(this.broker, {
      groupId: opts.groupId,
      topics: [opts.topic.name],
      fromBeginning: opts.fromBeginning,
      maxBatchMessages: opts.maxBatchMessages ?? DEFAULT_MAX_BATCH,
      partitionsConcurrently: opts.partitionsConsumedConcurrently,
      resumeFrom:
        opts.resumeFrom &&
        ((_topic, partitions) => (opts.resumeFrom as NonNullable<typeof opts.resumeFrom>)(partitions)),
      onRevoked: opts.onRevoked && ((_topic, partitions) => opts.onRevoked?.(partitions)),
      handle: async (topic, partition, raw, lag) => {
        const { messages, markers } = await decodeBatch(this.serde, this.deadLetters, opts.topic, partition, raw);
        consumerLag().set({ ...labels, partition: String(partition) }, lag);
        if (messages.length === 0 && markers.length === 0) return;
        const batch: ConsumedBatch<T> = {
          topic,
          partition,
          messages,
          markers,
          nextOffset: String(Number(raw[raw.length - 1].offset) + 1),
          lag,
        };
        consumerBatchSize().observe(labels, messages.length);
        try {
          await inBatchSpan(
            topic,
            partition,
            messages.map((m) => m.headers),
            () => opts.onBatch(batch),
          );
        } catch (err) {
          consumerBatchFailures().inc(labels);
          throw err;
        }
      },
    });
    await subscription.start();
    this.subscriptions.add(subscription);
    return {
      stop: async () => {
        await subscription.stop();
        await opts
          .onStopping?.()
          .catch((err: unknown) => this.logger.error(`onStopping failed: ${(err as Error).message}`));
        this.subscriptions.delete(subscription);
      },
      isRunning: () => subscription.isRunning(),
      commit: (offsets) => subscription.commit(offsets),
      rewind: (partition, offset) => subscription.rewind(opts.topic.name, partition, Number(offset)),
    };
  }

  /** Stops every consumer still running (application shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.subscriptions.clear();
  }
}
