import { TopicPartitionOffset, TopicSpec, Transaction, TransactionalPublisher } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { CommittedOffset, InMemoryBroker, OutgoingRecord } from './in-memory.broker';
import { encodeRecords } from './in-process-message.publisher';
import { injectTraceContext } from '@lib/kafka-avro/tracing/trace-context';

/**
 * Transactions of the embedded mode: what `work` publishes and the offsets it commits are buffered
 * and applied to the log in one step when it resolves (once on disk, with a durable broker), or
 * dropped when it throws, so readers see all of it or none of it, after a crash too.
 */
export class InProcessTransactionalPublisher extends TransactionalPublisher {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly broker: InMemoryBroker,
    private readonly serde: AvroSerde,
  ) {
    super();
  }

  /** Transactions run one at a time, in call order, as with one Kafka transactional producer. */
  override inTransaction(work: (tx: Transaction) => Promise<void>): Promise<void> {
    const run = this.queue.then(() => this.run(work));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(work: (tx: Transaction) => Promise<void>): Promise<void> {
    const records: OutgoingRecord[] = [];
    const offsets: CommittedOffset[] = [];
    let open = true;
    const tx: Transaction = {
      publish: async <T>(topic: TopicSpec<T>, values: readonly T[]) => {
        if (!open) throw new Error('transaction already finished');
        records.push(...(await encodeRecords(this.serde, topic, values, injectTraceContext({}))));
      },
      commitOffsets: async (groupId: string, consumed: readonly TopicPartitionOffset[]) => {
        if (!open) throw new Error('transaction already finished');
        offsets.push(
          ...consumed.map((o) => ({ groupId, topic: o.topic, partition: o.partition, offset: Number(o.offset) })),
        );
      },
    };
    try {
      await work(tx);
    } finally {
      open = false;
    }
    await this.broker.append(records, offsets);
  }
}
