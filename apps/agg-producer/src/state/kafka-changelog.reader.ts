import { randomUUID } from 'node:crypto';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { ConfigResourceTypes, ConsumerConfig, Kafka } from 'kafkajs';
import { ChangelogReader } from './changelog-reader.port';

export interface KafkaChangelogReaderOptions {
  /** Consumer settings (read_committed) for a group of the given id. */
  readonly consumerConfig: (groupId: string) => ConsumerConfig;
  /** Prefix of the throwaway group each read joins (kafkajs cannot consume without a group). */
  readonly groupPrefix: string;
  /** A read that has not reached every partition's end by then fails. */
  readonly timeoutMs: number;
  /** Layout of the topic when prepare() creates it. */
  readonly partitions: number;
  readonly replicationFactor: number;
}

const COMPACT = { name: 'cleanup.policy', value: 'compact' };

/**
 * ChangelogReader on kafkajs. The end of each partition is its last stable offset when the read
 * starts (ListOffsets, read_committed): everything committed by then, nothing of an open transaction.
 * Progress is tracked with the consumer's END_BATCH_PROCESS events, which also fire for fetches that
 * hold only transaction markers or aborted records, so a partition ending in a commit marker is seen
 * to be read to its end. The group never commits and is deleted afterwards.
 */
export class KafkaChangelogReader extends ChangelogReader {
  constructor(
    private readonly kafka: Kafka,
    private readonly serde: AvroSerde,
    private readonly options: KafkaChangelogReaderOptions,
  ) {
    super();
  }

  /**
   * Creates the topic compacted, or turns compaction on for one created otherwise (for instance by the
   * messaging module's start-up, which creates every topic an app names with default settings).
   */
  async prepare(topic: TopicSpec<unknown>): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(topic.name)) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic: topic.name,
              numPartitions: this.options.partitions,
              replicationFactor: this.options.replicationFactor,
              configEntries: [COMPACT],
            },
          ],
        });
        return;
      }
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic.name, configNames: [COMPACT.name] }],
      });
      const policy = described.resources[0]?.configEntries.find((e) => e.configName === COMPACT.name)?.configValue;
      if (policy !== COMPACT.value) {
        await admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: topic.name, configEntries: [COMPACT] }],
        });
      }
    } finally {
      await admin.disconnect();
    }
  }

  async readAll<T>(topic: TopicSpec<T>): Promise<T[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const ends = new Map<number, bigint>();
      for (const p of await admin.fetchTopicOffsets(topic.name)) {
        if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
      }
      if (ends.size === 0) return [];
      const groupId = `${this.options.groupPrefix}-${randomUUID()}`;
      try {
        return await this.consume(topic, groupId, ends);
      } finally {
        await admin.deleteGroups([groupId]).catch(() => undefined);
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async consume<T>(topic: TopicSpec<T>, groupId: string, ends: ReadonlyMap<number, bigint>): Promise<T[]> {
    const pending = new Set(ends.keys());
    const values = new Map<number, T[]>();
    let finish: () => void = () => undefined;
    let fail: (err: Error) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const consumer = this.kafka.consumer(this.options.consumerConfig(groupId));
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      const end = ends.get(payload.partition);
      if (end !== undefined && BigInt(payload.lastOffset) + 1n >= end) pending.delete(payload.partition);
      if (pending.size === 0) finish();
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
    const timer = setTimeout(
      () =>
        fail(
          new Error(
            `reading ${topic.name} to its end took more than ${this.options.timeoutMs} ms ` +
              `(partitions not done: ${[...pending].join(', ')})`,
          ),
        ),
      this.options.timeoutMs,
    );
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: topic.name, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const list = values.get(batch.partition) ?? [];
          for (const message of batch.messages) {
            // A null value is a tombstone: nothing to restore for that key.
            if (message.value === null) continue;
            list.push(await this.serde.decode<T>(topic.name, topic.schemaName, message.value));
          }
          values.set(batch.partition, list);
        },
      });
      await finished;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect();
    }
    return [...values.values()].flat();
  }
}
