import { Logger } from '@nestjs/common';
import { Kafka, Message, Producer } from 'kafkajs';
import { PublishError, TopicPartitionOffset, TopicSpec, Transaction, TransactionalPublisher } from '../messaging';
import { AvroSerde, EncodeError } from '../serde/avro.serde';
import { injectTraceContext } from '../tracing/trace-context';
import { KafkaOptionsFactory } from './kafka-options.factory';

/**
 * TransactionalPublisher on a kafkajs transactional producer. `work` only buffers: at its end the
 * messages go out in one request, the offsets are added with `sendOffsets`, and the transaction
 * commits; if anything throws, it aborts. Transactions run one at a time, in call order. After a
 * failed commit or abort the producer is replaced (it may be fenced or in an unknown state); its
 * successor's registration aborts whatever the old one left open.
 */
export class KafkaTransactionalPublisher extends TransactionalPublisher {
  private readonly log = new Logger('KafkaTransactions');
  private producer: Promise<Producer> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaOptionsFactory,
    private readonly serde: AvroSerde,
    readonly transactionalId: string,
  ) {
    super();
  }

  override inTransaction(work: (tx: Transaction) => Promise<void>): Promise<void> {
    const run = this.queue.then(() => this.run(work));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Connects (registering the transactional id, which fences older instances) ahead of the first transaction. */
  async connect(): Promise<void> {
    await this.connected();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.discardProducer();
  }

  private async run(work: (tx: Transaction) => Promise<void>): Promise<void> {
    if (this.closed) throw new PublishError('the transactional publisher is closed', 'unavailable');
    const producer = await this.connected();
    const byTopic = new Map<string, Message[]>();
    const offsets = new Map<string, TopicPartitionOffset[]>();
    let open = true;
    const headers = injectTraceContext({});
    const tx: Transaction = {
      publish: async <T>(topic: TopicSpec<T>, values: readonly T[]) => {
        if (!open) throw new Error('transaction already finished');
        const messages = byTopic.get(topic.name) ?? [];
        for (const value of values)
          messages.push({ key: topic.key(value), value: await this.encode(topic, value), headers });
        byTopic.set(topic.name, messages);
      },
      commitOffsets: async (groupId: string, consumed: readonly TopicPartitionOffset[]) => {
        if (!open) throw new Error('transaction already finished');
        offsets.set(groupId, [...(offsets.get(groupId) ?? []), ...consumed]);
      },
    };
    try {
      await work(tx);
    } finally {
      open = false;
    }
    const transaction = await producer.transaction();
    try {
      if (byTopic.size > 0) {
        await transaction.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      }
      for (const [consumerGroupId, consumed] of offsets) {
        const topics = new Map<string, { partition: number; offset: string }[]>();
        for (const o of consumed)
          topics.set(o.topic, [...(topics.get(o.topic) ?? []), { partition: o.partition, offset: o.offset }]);
        await transaction.sendOffsets({
          consumerGroupId,
          topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
        });
      }
      await transaction.commit();
    } catch (err) {
      await transaction.abort().catch((abortErr: unknown) => {
        this.log.warn(`abort failed after ${(err as Error).message}: ${(abortErr as Error).message}`);
      });
      await this.discardProducer();
      throw err;
    }
  }

  private async encode<T>(topic: TopicSpec<T>, value: T): Promise<Buffer> {
    try {
      return await this.serde.encode(topic.name, topic.schemaName, value);
    } catch (err) {
      if (err instanceof EncodeError)
        throw new PublishError(`cannot publish to ${topic.name}: ${err.message}`, 'rejected', err);
      throw err;
    }
  }

  private connected(): Promise<Producer> {
    if (this.producer === undefined) {
      const producer = this.kafka.producer(this.options.transactionalProducerConfig(this.transactionalId));
      const connecting = producer.connect().then(() => producer);
      connecting.catch(() => {
        if (this.producer === connecting) this.producer = undefined;
      });
      this.producer = connecting;
    }
    return this.producer;
  }

  private async discardProducer(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    const p = await producer?.catch(() => undefined);
    await p?.disconnect().catch(() => undefined);
  }
}
