import { ConfigResourceTypes, ConsumerConfig, Kafka } from 'kafkajs';
import { TopicReader, TopicReadOptions, TopicSpec } from '../messaging';
import { AvroSerde } from '../serde/avro.serde';
import { TopicLayout } from './kafka-topic.admin';
import { readTopicRanges } from './kafka-topic-range.reader';

export interface KafkaTopicReaderOptions extends TopicLayout {
  /** Consumer settings (read_committed) for a group of the given id. */
  readonly consumerConfig: (groupId: string) => ConsumerConfig;
  /** Prefix of the throwaway group each read joins (kafkajs cannot consume without a group). */
  readonly groupPrefix: string;
}

const COMPACT = { name: 'cleanup.policy', value: 'compact' };

/**
 * TopicReader on kafkajs: each partition read from its start (or `lastPerPartition` before its last stable
 * offset) to its last stable offset when the read starts (readTopicRanges: read_committed, tombstones
 * skipped, a throwaway group deleted afterwards).
 */
export class KafkaTopicReader extends TopicReader {
  constructor(
    private readonly kafka: Kafka,
    private readonly serde: AvroSerde,
    private readonly options: KafkaTopicReaderOptions,
  ) {
    super();
  }

  async ensureTopic(topic: TopicSpec<unknown>, opts: { readonly compacted?: boolean } = {}): Promise<void> {
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
              configEntries: opts.compacted === true ? [COMPACT] : [],
            },
          ],
        });
        return;
      }
      if (opts.compacted !== true) return;
      // Created otherwise (for instance by the messaging module's start-up, with default settings).
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

  readToEnd<T>(topic: TopicSpec<T>, opts: TopicReadOptions): Promise<T[]> {
    const { lastPerPartition } = opts;
    return readTopicRanges(
      this.kafka,
      this.serde,
      topic,
      { ...this.options, timeoutMs: opts.timeoutMs },
      ({ low, high }) => (lastPerPartition === undefined ? low : high - BigInt(lastPerPartition)),
    );
  }
}
