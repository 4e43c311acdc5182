import { Logger } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import { deadLetterTopicOf } from '../topics';

export interface TopicLayout {
  readonly partitions: number;
  readonly replicationFactor: number;
}

/**
 * Creates the topics an app uses, and their dead-letter topics, when missing (brokers run with
 * auto-creation off). Existing topics are left as they are, whatever their partition count.
 */
export async function ensureTopics(kafka: Kafka, names: readonly string[], layout: TopicLayout): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const wanted = [...new Set(names.flatMap((name) => [name, deadLetterTopicOf(name)]))];
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((name) => !existing.has(name));
    if (missing.length > 0) {
      // createTopics ignores topics that appeared meanwhile (another replica starting at the same time).
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: layout.partitions,
          replicationFactor: layout.replicationFactor,
        })),
      });
      new Logger('KafkaTopics').log(`created ${missing.join(', ')} (${layout.partitions} partitions)`);
    }
    return missing;
  } finally {
    await admin.disconnect();
  }
}
