/**
 * Test doubles of the messaging ports for agg-producer's unit tests: one in-memory "broker" whose
 * transactions apply atomically or not at all (with injectable failures), a single-partition consumer
 * that delivers what the test appends, and a topic reader over the same log.
 */
import {
  ConsumedBatch,
  ConsumerHandle,
  ConsumerOptions,
  MessageConsumer,
  TopicPartitionOffset,
  TopicReader,
  TopicReadOptions,
  TopicSpec,
  Transaction,
  TransactionalPublisher,
} from '@lib/kafka-avro/messaging';

export interface StoredMessage {
  key: string;
  value: unknown;
}

export class InMemoryBroker {
  readonly topics = new Map<string, StoredMessage[]>();
  /** `group` -> `topic/partition` -> next offset, as committed by transactions. */
  readonly groupOffsets = new Map<string, Map<string, string>>();
  /** Transactions that will fail at commit, after their work ran. */
  failCommits = 0;
  transactions = 0;

  log(topic: string): StoredMessage[] {
    let log = this.topics.get(topic);
    if (log === undefined) {
      log = [];
      this.topics.set(topic, log);
    }
    return log;
  }

  values<T>(topic: string): T[] {
    return this.log(topic).map((m) => m.value as T);
  }

  append<T>(spec: TopicSpec<T>, values: readonly T[]): void {
    for (const value of values) this.log(spec.name).push({ key: spec.key(value), value: structuredClone(value) });
  }
}

export class InMemoryTransactionalPublisher extends TransactionalPublisher {
  constructor(private readonly broker: InMemoryBroker) {
    super();
  }

  async inTransaction(work: (tx: Transaction) => Promise<void>): Promise<void> {
    const staged: { spec: TopicSpec<unknown>; values: unknown[] }[] = [];
    const offsets: { groupId: string; offsets: readonly TopicPartitionOffset[] }[] = [];
    await work({
      publish: async <T>(topic: TopicSpec<T>, values: readonly T[]) => {
        staged.push({ spec: topic as TopicSpec<unknown>, values: [...values] });
      },
      commitOffsets: async (groupId, committed) => {
        offsets.push({ groupId, offsets: committed });
      },
    });
    if (this.broker.failCommits > 0) {
      this.broker.failCommits -= 1;
      throw new Error('injected transaction failure');
    }
    for (const { spec, values } of staged) this.broker.append(spec, values);
    for (const { groupId, offsets: list } of offsets) {
      const group = this.broker.groupOffsets.get(groupId) ?? new Map<string, string>();
      for (const o of list) group.set(`${o.topic}/${o.partition}`, o.offset);
      this.broker.groupOffsets.set(groupId, group);
    }
    this.broker.transactions += 1;
  }
}

/** Reads the whole log of a topic (one partition); `lastPerPartition` keeps its tail. */
export class InMemoryTopicReader extends TopicReader {
  constructor(private readonly broker: InMemoryBroker) {
    super();
  }

  async ensureTopic(): Promise<void> {}

  async readToEnd<T>(topic: TopicSpec<T>, opts: TopicReadOptions): Promise<T[]> {
    const values = this.broker.values<T>(topic.name).map((v) => structuredClone(v));
    return opts.lastPerPartition === undefined ? values : values.slice(-opts.lastPerPartition);
  }
}

/**
 * A consumer of partition 0 of one topic. `deliver` hands what was appended since its position to
 * onBatch in batches, like the real consumer: a batch whose onBatch throws is not skipped (the error
 * reaches the test, which may deliver again).
 */
export class ScriptedConsumer extends MessageConsumer {
  private opts: ConsumerOptions<unknown> | undefined;
  private position = 0;
  starts = 0;

  constructor(private readonly broker: InMemoryBroker) {
    super();
  }

  async start<T>(opts: ConsumerOptions<T>): Promise<ConsumerHandle> {
    this.starts += 1;
    const resume = (await opts.resumeFrom?.([0])) ?? new Map<number, string>();
    this.position = Number(resume.get(0) ?? '0');
    this.opts = opts as ConsumerOptions<unknown>;
    let running = true;
    return {
      stop: async () => {
        running = false;
        this.opts = undefined;
      },
      isRunning: () => running,
      commit: async () => undefined,
      rewind: () => undefined,
    };
  }

  get running(): boolean {
    return this.opts !== undefined;
  }

  /** Delivers everything up to the end of the log in batches of `batchSize`. */
  async deliver(batchSize = 100): Promise<void> {
    const opts = this.opts;
    if (opts === undefined) throw new Error('consumer not started');
    const log = this.broker.log(opts.topic.name);
    while (this.position < log.length) {
      const end = Math.min(this.position + batchSize, log.length);
      const batch: ConsumedBatch<unknown> = {
        topic: opts.topic.name,
        partition: 0,
        messages: log.slice(this.position, end).map((m, i) => ({
          topic: opts.topic.name,
          partition: 0,
          offset: String(this.position + i),
          key: m.key,
          value: structuredClone(m.value),
          headers: {},
          timestamp: 0,
        })),
        nextOffset: String(end),
        lag: log.length - end,
      };
      await opts.onBatch(batch);
      this.position = end;
    }
  }
}
