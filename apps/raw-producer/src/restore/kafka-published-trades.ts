import { randomUUID } from 'node:crypto';
import { DeribitTrade, PublishedTrades } from '@lib/domain';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { ConsumerConfig, Kafka } from 'kafkajs';

export interface KafkaPublishedTradesOptions {
  /** Consumer settings (read_committed) for a group of the given id. */
  readonly consumerConfig: (groupId: string) => ConsumerConfig;
  /** Prefix of the throwaway group each read joins (kafkajs cannot consume without a group). */
  readonly groupPrefix: string;
  /** A read that has not reached every partition's end by then fails. */
  readonly timeoutMs: number;
}

/** Avro decodes absent optional fields as null; DeribitTrade leaves them out. */
function withoutNulls(value: Record<string, unknown>): DeribitTrade {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = v;
  return out as unknown as DeribitTrade;
}

/**
 * PublishedTrades on kafkajs. The end of each partition is its last stable offset when the read starts
 * (ListOffsets, read_committed); the consumer seeks every partition to `perPartition` records before it
 * and reads up to there. Progress is tracked with END_BATCH_PROCESS events, which also fire for fetches
 * holding only transaction markers, so a partition ending in a marker is seen to be read to its end.
 * The group never commits and is deleted afterwards.
 */
export class KafkaPublishedTrades extends PublishedTrades {
  constructor(
    private readonly kafka: Kafka,
    private readonly serde: AvroSerde,
    private readonly topic: TopicSpec<DeribitTrade>,
    private readonly options: KafkaPublishedTradesOptions,
  ) {
    super();
  }

  async tail(perPartition: number): Promise<DeribitTrade[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      if (!(await admin.listTopics()).includes(this.topic.name)) return [];
      const ranges = new Map<number, { from: bigint; end: bigint }>();
      for (const p of await admin.fetchTopicOffsets(this.topic.name)) {
        const low = BigInt(p.low);
        const end = BigInt(p.high);
        if (end <= low) continue;
        const from = end - BigInt(perPartition);
        ranges.set(p.partition, { from: from > low ? from : low, end });
      }
      if (ranges.size === 0) return [];
      const groupId = `${this.options.groupPrefix}-${randomUUID()}`;
      try {
        return await this.consume(groupId, ranges);
      } finally {
        await admin.deleteGroups([groupId]).catch(() => undefined);
      }
    } finally {
      await admin.disconnect();
    }
  }

  private async consume(
    groupId: string,
    ranges: ReadonlyMap<number, { from: bigint; end: bigint }>,
  ): Promise<DeribitTrade[]> {
    const topic = this.topic;
    const pending = new Set(ranges.keys());
    const values = new Map<number, DeribitTrade[]>();
    let finish: () => void = () => undefined;
    let fail: (err: Error) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    const consumer = this.kafka.consumer(this.options.consumerConfig(groupId));
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
            `reading the tail of ${topic.name} took more than ${this.options.timeoutMs} ms ` +
              `(partitions not done: ${[...pending].join(', ')})`,
          ),
        ),
      this.options.timeoutMs,
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
            // A fetch made before the seek applied may start elsewhere: only the tail counts.
            const offset = BigInt(message.offset);
            if (message.value === null || offset < range.from || offset >= range.end) continue;
            list.push(withoutNulls(await this.serde.decode(topic.name, topic.schemaName, message.value)));
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
}
