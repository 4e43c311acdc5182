/**
 * Reads a topic from the beginning up to its end as it is when the call starts (read_committed), with
 * each message's partition and offset, and decodes values with the product's Avro serde.
 */
import { defaultSchemaCatalog } from '@lib/kafka-avro/schemas/schema.catalog';
import { SingleObjectSerde } from '@lib/kafka-avro/serde/single-object.serde';
import { Kafka, logLevel } from 'kafkajs';
import { uniqueName } from '../../support/test-env';

export interface ReadMessage<T> {
  partition: number;
  offset: number;
  key: string;
  value: T;
}

const serde = new SingleObjectSerde(defaultSchemaCatalog());

/** End offset of each partition of `topic` (none for a topic that does not exist). */
export async function endOffsets(brokers: string[], topic: string): Promise<Map<number, number>> {
  const kafka = new Kafka({ clientId: 'reliability-offsets', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return new Map();
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Avro decodes absent optional fields as null; the JSON the tests compare with leaves them out. */
function withoutNulls<T>(value: unknown): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
  return out as T;
}

export async function readTopic<T>(
  brokers: string[],
  topic: string,
  schemaName: string,
  timeoutMs = 60_000,
): Promise<ReadMessage<T>[]> {
  const ends = await endOffsets(brokers, topic);
  const out: ReadMessage<T>[] = [];
  const positions = new Map<number, number>();
  const done = () => [...ends].every(([p, end]) => end === 0 || (positions.get(p) ?? -1) + 1 >= end);
  if (done()) return out;
  const kafka = new Kafka({ clientId: 'reliability-reader', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('reliability-reader'), maxWaitTimeInMs: 100 });
  // Transaction markers take offsets too: a batch's last offset says how far a partition has been read.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    positions.set(payload.partition, Math.max(positions.get(payload.partition) ?? -1, Number(payload.lastOffset)));
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const offset = Number(message.offset);
        if (offset >= (ends.get(partition) ?? 0) || message.value === null) return;
        out.push({
          partition,
          offset,
          key: message.key?.toString() ?? '',
          value: withoutNulls<T>(await serde.decode(topic, schemaName, message.value)),
        });
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`${topic} not read to its end within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect();
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
