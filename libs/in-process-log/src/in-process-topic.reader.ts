import { TopicReader, TopicReadOptions, TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { InMemoryBroker } from './in-memory.broker';

/**
 * TopicReader on the in-process broker (embedded mode). Its transactions are atomic appends, so
 * everything in the log is committed; its durable journal is what survives a restart of the process.
 * `compacted` only creates the topic: a reader of a changelog keeps the last record of each key, which
 * is what compaction leaves, whether or not a log has been compacted yet.
 */
export class InProcessTopicReader extends TopicReader {
  constructor(
    private readonly broker: InMemoryBroker,
    private readonly serde: AvroSerde,
  ) {
    super();
  }

  async ensureTopic(topic: TopicSpec<unknown>): Promise<void> {
    this.broker.createTopic(topic.name);
  }

  async readToEnd<T>(topic: TopicSpec<T>, opts: TopicReadOptions): Promise<T[]> {
    const values: T[] = [];
    for (let partition = 0; partition < this.broker.partitionCount(topic.name); partition++) {
      const { low, high } = this.broker.bounds(topic.name, partition);
      const from = opts.lastPerPartition === undefined ? low : Math.max(low, high - opts.lastPerPartition);
      for (const message of this.broker.read(topic.name, partition, from, high - from)) {
        if (message.value !== null)
          values.push(await this.serde.decode<T>(topic.name, topic.schemaName, message.value));
      }
    }
    return values;
  }
}
