import { randomUUID } from 'node:crypto';
import { ConsumerConfig, Kafka } from 'kafkajs';
import { TopicSpec } from '../messaging';
import { AvroSerde } from '../serde/avro.serde';

export interface TopicRangeReadOptions {
  /** Consumer settings (read_committed) for a group of the given id. */
  readonly consumerConfig: (groupId: string) => ConsumerConfig;
  /** Prefix of the throwaway group each read joins (kafkajs cannot consume without a group). */
  readonly groupPrefix: string;
  /** A read that has not reached every partition's end by then fails. */
  readonly timeoutMs: number;
}

/** A partition's offsets when the read starts: `high` is its last stable offset under read_committed. */
export interface PartitionBounds {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

/**
 * Reads, once, the records of `topic` from a start offset per partition up to the partition's end when
 * the read starts, and decodes them. `startOf` says where each non-empty partition starts (at least
 * its low offset; undefined: not read). A missing topic reads as empty.
 *
 * The end of each partition is its last stable offset (ListOffsets, read_committed): everything
 * committed by then, nothing of an open transaction. Progress is tracked with the consumer's
 * END_BATCH_PROCESS events, which also fire for fetches that hold only transaction markers or aborted
 * records, so a partition ending in a commit marker is seen to be read to its end. Null values
 * (tombstones) are skipped. The group never commits and is deleted afterwards.
 */
export async function readTopicRanges<T>(
  kafka: Kafka,
  serde: AvroSerde,
  topic: TopicSpec<T>,
  options: TopicRangeReadOptions,
  startOf: (bounds: PartitionBounds) => bigint | undefined,
): Promise<T[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic.name)) return [];
    const ranges = new Map<number, { from: bigint; end: bigint }>();
    for (const p of await admin.fetchTopicOffsets(topic.name)) {
      const bounds = { partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) };
      if (bounds.high <= bounds.low) continue;
      const from = startOf(bounds);
      if (from !== undefined)
        ranges.set(p.partition, { from: from > bounds.low ? from : bounds.low, end: bounds.high });
    }
    if (ranges.size === 0) return [];
    const groupId = `${options.groupPrefix}-${randomUUID()}`;
    try {
      return await consume(kafka, serde, topic, options, groupId, ranges);
    } finally {
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}

async function consume<T>(
  kafka: Kafka,
  serde: AvroSerde,
  topic: TopicSpec<T>,
  options: TopicRangeReadOptions,
  groupId: string,
  ranges: ReadonlyMap<number, { from: bigint; end: bigint }>,
): Promise<T[]> {
  const pending = new Set(ranges.keys());
  const values = new Map<number, T[]>();
  let finish: () => void = () => undefined;
  let fail: (err: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const consumer = kafka.consumer(options.consumerConfig(groupId));
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const range = ranges.get(payload.partition);
    if (range !== undefined && BigInt(payload.lastOffset) + 1n >= range.end) pending.delete(payload.partition);
    if (pending.size === 0) finish();
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
  const timer = setTimeout(
    () =>
      fail(
        new Error(
          `reading ${topic.name} to its end took more than ${options.timeoutMs} ms ` +
            `(partitions not done: ${[...pending].join(', ')})`,
        ),
      ),
    options.timeoutMs,
  );
  try {
    await consumer.connect();
    // Not from the beginning: the seeks below say where each partition starts.
    await consumer.subscribe({ topic: topic.name, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = ranges.get(batch.partition);
        if (range === undefined) return;
        const list = values.get(batch.partition) ?? [];
        for (const message of batch.messages) {
          // A fetch made before the seek applied may start elsewhere: only the range counts.
          const offset = BigInt(message.offset);
          if (message.value === null || offset < range.from || offset >= range.end) continue;
          list.push(await serde.decode<T>(topic.name, topic.schemaName, message.value));
        }
        values.set(batch.partition, list);
      },
    });
    for (const [partition, range] of ranges) {
      consumer.seek({ topic: topic.name, partition, offset: range.from.toString() });
    }
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
  return [...values.values()].flat();
}
