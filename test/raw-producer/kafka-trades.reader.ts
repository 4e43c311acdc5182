import { DeribitTrade } from '@lib/domain';
import { defaultSchemaCatalog } from '@lib/kafka-avro/schemas/schema.catalog';
import { SingleObjectSerde } from '@lib/kafka-avro/serde/single-object.serde';
import { Kafka, logLevel } from 'kafkajs';
import { uniqueName } from '../support/test-env';

export interface ReadTrade {
  readonly key: string;
  readonly partition: number;
  readonly value: DeribitTrade;
}

/** Avro decodes absent optional fields as null; DeribitTrade leaves them out. */
function withoutNulls(value: Record<string, unknown>): DeribitTrade {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null)) as unknown as DeribitTrade;
}

/**
 * Reads `topic` from the beginning until `expected` messages arrived, then keeps reading for `settleMs`
 * more, so that a duplicate written after the last expected message is caught too. Rejects after
 * `timeoutMs` with what it got.
 */
export async function readTrades(
  brokers: string[],
  topic: string,
  expected: number,
  opts: {
    settleMs?: number;
    timeoutMs?: number;
    /** Filled with the markers read (records without a value): key and headers, in partition order. */
    markers?: { key: string; headers: Record<string, string> }[];
  } = {},
): Promise<ReadTrade[]> {
  const serde = new SingleObjectSerde(defaultSchemaCatalog());
  const consumer = new Kafka({ clientId: 'raw-producer-e2e-reader', brokers, logLevel: logLevel.WARN }).consumer({
    groupId: uniqueName('raw-producer-e2e'),
    maxWaitTimeInMs: 100,
  });
  const received: ReadTrade[] = [];
  let reachedAt: number | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        if (message.value === null) {
          const headers = Object.fromEntries(
            Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString() : String(v)]),
          );
          opts.markers?.push({ key: message.key?.toString() ?? '', headers });
          return;
        }
        const value = serde.decode<Record<string, unknown>>(topic, 'market.DeribitTrade', message.value);
        received.push({ key: message.key?.toString() ?? '', partition, value: withoutNulls(value) });
        if (received.length >= expected) reachedAt ??= Date.now();
      },
    });
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    const settleMs = opts.settleMs ?? 1_500;
    while (reachedAt === undefined || Date.now() - reachedAt < settleMs) {
      if (Date.now() > deadline) {
        throw new Error(`read ${received.length} of ${expected} messages from ${topic} before the timeout`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await consumer.disconnect();
  }
  // Partitions are consumed concurrently: order holds within a partition, and so per instrument.
  return received;
}
