import { Kafka, logLevel } from 'kafkajs';

/**
 * Every message of a topic, from the beginning up to its end as it is now (its high watermarks),
 * decoded only as far as the tests need: the cookie, which is the key of user tags.
 */
export async function readTopicKeys(brokers: string[], topic: string): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'lifecycle-test-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, number>();
  try {
    for (const p of await admin.fetchTopicOffsets(topic)) ends.set(p.partition, Number(p.high));
  } finally {
    await admin.disconnect();
  }
  const keys: string[] = [];
  const positions = new Map<number, number>([...ends.keys()].map((p) => [p, 0]));
  const done = () => [...ends].every(([p, end]) => (positions.get(p) ?? 0) >= end);
  if (done()) return keys;
  const consumer = kafka.consumer({ groupId: `lifecycle-reader-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (Number(message.offset) >= (ends.get(partition) ?? 0)) return;
        keys.push(message.key?.toString() ?? '');
        positions.set(partition, Number(message.offset) + 1);
      },
    });
    const deadline = Date.now() + 60_000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${topic} not read to its end within 60 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect();
  }
  return keys;
}
