import { Logger } from '@nestjs/common';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { RawMessage } from '@lib/kafka-avro/consuming/raw-message';
import { DEFAULT_RETRY, retryUntilDone, RetryOptions, Stopped } from '@lib/kafka-avro/consuming/retry';
import type { TopicPartitionOffset } from '@lib/kafka-avro/messaging';
import { Assignment, GroupMember, InMemoryBroker } from './in-memory.broker';

export interface InMemorySubscriptionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly maxBatchMessages: number;
  /** Partitions whose batches are handled at the same time (each partition one batch at a time). Default 1. */
  readonly partitionsConcurrently?: number;
  /** External offsets: where each assigned partition of `topic` resumes (see ConsumerOptions.resumeFrom). */
  readonly resumeFrom?: (topic: string, partitions: readonly number[]) => Promise<ReadonlyMap<number, string>>;
  readonly onRevoked?: (topic: string, partitions: readonly number[]) => void;
  /** Processes one batch of one partition; throwing makes it retried with backoff. */
  handle(topic: string, partition: number, messages: readonly RawMessage[], lag: number): Promise<void>;
  readonly retry?: RetryOptions;
}

interface Position {
  readonly topic: string;
  readonly partition: number;
  next: number;
  /** Moved by each rewind: a batch read before it does not advance `next` when it finishes. */
  rewinds: number;
}

const tp = (topic: string, partition: number): string => `${topic}:${partition}`;

/**
 * One member of a consumer group on the {@link InMemoryBroker}: it consumes the partitions the group
 * assigns it, one batch at a time, in offset order, and commits each batch after `handle` resolves
 * (unless offsets are external). The contract is that of MessageConsumer, so both transports behave
 * alike under the same tests.
 */
export class InMemorySubscription implements GroupMember {
  private readonly log = new Logger('InMemoryConsumer');
  private readonly positions = new Map<string, Position>();
  private pending: Assignment | undefined;
  private stopping = false;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly broker: InMemoryBroker,
    private readonly opts: InMemorySubscriptionOptions,
  ) {}

  get topics(): readonly string[] {
    return this.opts.topics;
  }

  assign(assignment: Assignment): void {
    this.pending = assignment;
  }

  /** Joins the group and resolves once the first assignment is applied. */
  async start(): Promise<void> {
    this.broker.join(this.opts.groupId, this);
    await this.applyPendingAssignment();
    this.running = true;
    this.loop = this.run().catch((err: unknown) => {
      this.running = false;
      this.log.error(`consumer of group ${this.opts.groupId} crashed: ${(err as Error).stack ?? String(err)}`);
    });
  }

  isRunning(): boolean {
    return this.running && !this.stopping;
  }

  /** Lets the batch in progress finish (and commit), then leaves the group. */
  async stop(): Promise<void> {
    if (this.stopping) return this.loop;
    this.stopping = true;
    this.broker.wake();
    await this.loop;
    this.running = false;
    this.broker.leave(this.opts.groupId, this);
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) this.broker.commit(this.opts.groupId, o.topic, o.partition, Number(o.offset));
  }

  /** Reads `partition` again from `offset` once the batch in progress finishes (see ConsumerHandle.rewind). */
  rewind(topic: string, partition: number, offset: number): void {
    const position = this.positions.get(tp(topic, partition));
    if (position === undefined) return;
    position.next = offset;
    position.rewinds += 1;
    this.broker.wake();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.pending !== undefined) await this.applyPendingAssignment();
      let worked = false;
      const positions = [...this.positions.values()];
      const concurrently = Math.max(1, this.opts.partitionsConcurrently ?? 1);
      for (let i = 0; i < positions.length; i += concurrently) {
        if (this.stopping || this.pending !== undefined) break;
        const round: Promise<void>[] = [];
        for (const position of positions.slice(i, i + concurrently)) {
          const { low, high } = this.broker.bounds(position.topic, position.partition);
          if (position.next < low) {
            this.log.warn(
              `${tp(position.topic, position.partition)}: records ${position.next}..${low - 1} were dropped before group ${this.opts.groupId} read them`,
            );
            position.next = low;
          }
          if (position.next >= high) continue;
          const batch = this.broker.read(position.topic, position.partition, position.next, this.opts.maxBatchMessages);
          worked = true;
          round.push(this.process(position, batch, high, position.rewinds));
        }
        // Every batch of the round settles before the first error (if any) is thrown.
        const settled = await Promise.allSettled(round);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      }
      if (this.stopping) break;
      // Waiting is registered synchronously after the last read, so no append can slip in between.
      if (worked || this.pending !== undefined) await yieldToEventLoop();
      else await this.broker.changed();
    }
  }

  private async process(
    position: Position,
    batch: readonly RawMessage[],
    high: number,
    rewinds: number,
  ): Promise<void> {
    const { topic, partition } = position;
    const next = Number(batch[batch.length - 1].offset) + 1;
    const work = retryUntilDone(() => this.opts.handle(topic, partition, batch, high - next), {
      ...(this.opts.retry ?? DEFAULT_RETRY),
      shouldStop: () => this.stopping || this.loses(topic, partition),
      onFailure: (err, attemptNo, delayMs) =>
        this.log.error(
          `group ${this.opts.groupId} ${tp(topic, partition)}@${batch[0].offset}: batch failed (attempt ${attemptNo}), retrying in ${delayMs} ms: ${
            (err as Error).message ?? String(err)
          }`,
        ),
    });
    this.broker.processing(this.opts.groupId, topic, partition, work);
    try {
      await work;
    } catch (err) {
      if (err instanceof Stopped) return;
      throw err;
    }
    if (position.rewinds !== rewinds) return; // rewound meanwhile: `next` is where it was sent
    position.next = next;
    if (this.opts.resumeFrom === undefined) this.broker.commit(this.opts.groupId, topic, partition, next);
  }

  /** A pending rebalance takes this partition away. */
  private loses(topic: string, partition: number): boolean {
    return this.pending !== undefined && !(this.pending.partitions.get(topic) ?? []).includes(partition);
  }

  /**
   * Applies the latest assignment: revoked partitions are reported, and every assigned partition is
   * positioned (external offsets, else the committed offset, else per fromBeginning) once its
   * previous owner finished the batch it was processing.
   */
  private async applyPendingAssignment(): Promise<void> {
    while (this.pending !== undefined) {
      const assignment = this.pending;
      this.pending = undefined;
      const revoked = new Map<string, number[]>();
      for (const position of this.positions.values()) {
        if (!(assignment.partitions.get(position.topic) ?? []).includes(position.partition)) {
          revoked.set(position.topic, [...(revoked.get(position.topic) ?? []), position.partition]);
        }
      }
      this.positions.clear();
      for (const [topic, partitions] of revoked) this.opts.onRevoked?.(topic, partitions);

      for (const [topic, partitions] of assignment.partitions) {
        if (partitions.length === 0) continue;
        await Promise.all(partitions.map((p) => this.broker.idle(this.opts.groupId, topic, p)));
        const resume = this.opts.resumeFrom ? await this.opts.resumeFrom(topic, partitions) : undefined;
        for (const partition of partitions) {
          this.positions.set(tp(topic, partition), {
            topic,
            partition,
            next: this.startOffset(topic, partition, resume),
            rewinds: 0,
          });
        }
      }
    }
  }

  private startOffset(topic: string, partition: number, resume: ReadonlyMap<number, string> | undefined): number {
    const { low, high } = this.broker.bounds(topic, partition);
    const initial = this.opts.fromBeginning ? low : high;
    const wanted =
      resume !== undefined ? resume.get(partition) : this.broker.committed(this.opts.groupId, topic, partition);
    if (wanted === undefined) return initial;
    const offset = Number(wanted);
    if (offset > high) {
      // The log restarted (it is not durable): like Kafka's auto.offset.reset on an out-of-range offset.
      this.log.warn(`${tp(topic, partition)}: offset ${offset} is beyond the end (${high}); starting at ${initial}`);
      return initial;
    }
    return Math.max(offset, low);
  }
}
