import { TopicRangeReadOptions, readTopicRanges } from '@lib/kafka-avro/kafka/kafka-topic-range.reader';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { ConfigResourceTypes, Kafka } from 'kafkajs';
import { ChangelogReader } from './changelog-reader.port';

export interface KafkaChangelogReaderOptions extends TopicRangeReadOptions {
  /** Layout of the topic when prepare() creates it. */
  readonly partitions: number;
  readonly replicationFactor: number;
}

const COMPACT = { name: 'cleanup.policy', value: 'compact' };

/**
 * ChangelogReader on kafkajs: each partition read from its start to its last stable offset when the read
 * starts (readTopicRanges: read_committed, tombstones skipped, a throwaway group deleted afterwards).
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

  readAll<T>(topic: TopicSpec<T>): Promise<T[]> {
    return readTopicRanges(this.kafka, this.serde, topic, this.options, ({ low }) => low);
  }
}
