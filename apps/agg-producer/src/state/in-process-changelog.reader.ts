import { InMemoryBroker } from '@lib/kafka-avro';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { ChangelogReader } from './changelog-reader.port';

/**
 * ChangelogReader on the in-process transport's broker (embedded mode). Its transactions are atomic
 * appends, so everything in the log is committed. Restoring keeps the last record of each key, which is
 * what compaction leaves, whether or not the broker has compacted the topic yet.
 */
export class InProcessChangelogReader extends ChangelogReader {
  constructor(
    private readonly broker: InMemoryBroker,
    private readonly serde: AvroSerde,
  ) {
    super();
  }

  async prepare(topic: TopicSpec<unknown>): Promise<void> {
    this.broker.createTopic(topic.name);
  }

  async readAll<T>(topic: TopicSpec<T>): Promise<T[]> {
    const values: T[] = [];
    for (let partition = 0; partition < this.broker.partitionCount(topic.name); partition++) {
      const { low, high } = this.broker.bounds(topic.name, partition);
      for (const message of this.broker.read(topic.name, partition, low, high - low)) {
        if (message.value !== null)
          values.push(await this.serde.decode<T>(topic.name, topic.schemaName, message.value));
      }
    }
    return values;
  }
}
