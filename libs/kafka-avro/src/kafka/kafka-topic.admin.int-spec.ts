import { Kafka, logLevel } from 'kafkajs';
import { testKafkaBrokers, uniqueName } from '../../../../test/support/test-env';
import { ensureTopics } from './kafka-topic.admin';

describe('ensureTopics (real broker)', () => {
  it('lets several apps create the same topics at the same moment', async () => {
    const kafka = new Kafka({ clientId: 'topic-race', brokers: testKafkaBrokers(), logLevel: logLevel.NOTHING });
    const names = [uniqueName('race-a'), uniqueName('race-b')];
    const results = await Promise.all(
      Array.from({ length: 4 }, () => ensureTopics(kafka, names, { partitions: 3, replicationFactor: 1 })),
    );
    expect(results.every((created) => created.length > 0)).toBe(true);
    const admin = kafka.admin();
    await admin.connect();
    const meta = await admin.fetchTopicMetadata({ topics: [...names, `${names[0]}.dlq`] });
    await admin.disconnect();
    expect(meta.topics.map((t) => t.partitions.length)).toEqual([3, 3, 3]);
  });
});
