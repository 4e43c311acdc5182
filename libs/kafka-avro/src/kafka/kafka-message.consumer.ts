import { Logger } from '@nestjs/common';
import { Backoff } from '@lib/platform/retry/backoff';
import { Admin, Batch, Consumer, ConsumerConfig, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { decodeBatch } from '../consuming/batch-decoder';
import { RawMessage } from '../consuming/raw-message';
import { DEFAULT_RETRY, retryUntilDone, RetryOptions, Stopped } from '../consuming/retry';
import { DeadLetterSink } from '../dead-letter/dead-letter';
import { ConsumedBatch, ConsumerHandle, ConsumerOptions, MessageConsumer } from '../messaging';
import { consumerBatchFailures, consumerBatchSize, consumerLag } from '../metrics/messaging.metrics';
import { AvroSerde } from '../serde/avro.serde';
import { headersToStrings } from '../tracing/trace-context';
import { inBatchSpan } from '../tracing/tracing.setup';
import { KafkaOptionsFactory } from './kafka-options.factory';

/** kafkajs sends a heartbeat at most once per heartbeatInterval, however often this asks. */
const HEARTBEAT_WHILE_BUSY_MS = 1_000;

/** Where a partition must resume under external offsets, and whether that was checked yet. */
interface ResumePoint {
  offset: bigint;
  /** A batch at or after `offset` was accepted since the assignment: offsets move on from there. */
  verified: boolean;
  /** Already sought back once; a later gap (transaction markers, compaction) is then genuine. */
  soughtBack: boolean;
}

function toRaw(message: KafkaMessage): RawMessage {
  return {
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: headersToStrings(message.headers),
    timestamp: Number(message.timestamp),
  };
}

/**
 * MessageConsumer on kafkajs `eachBatch`, with auto-resolve and auto-commit off:
 * - each partition batch is decoded (poison to `<topic>.dlq`), cut into chunks of at most
 *   `maxBatchMessages`, and handed to onBatch in offset order; a failing onBatch is retried with
 *   backoff (heartbeating meanwhile) until it succeeds, the consumer stops or the partition is lost;
 * - without `resumeFrom`, each chunk's `nextOffset` is committed right after onBatch resolves;
 * - with `resumeFrom`, on every assignment (GROUP_JOIN) the consumer asks where each partition
 *   resumes and seeks there; batches are held until that answer is in, messages below it are
 *   dropped, and if the first batch of a partition starts above it (fetched from an older position
 *   before the seek took effect) the consumer seeks back once. Only `commit()` writes to Kafka.
 */
export class KafkaMessageConsumer extends MessageConsumer {
  private readonly handles = new Set<ConsumerHandle>();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: KafkaOptionsFactory,
    private readonly serde: AvroSerde,
    private readonly deadLetters: DeadLetterSink,
    private readonly tuning: { retry?: RetryOptions; consumer?: Partial<ConsumerConfig> } = {},
  ) {
    super();
  }

  override async start<T>(opts: ConsumerOptions<T>): Promise<ConsumerHandle> {
    const run = new ConsumerRun(this.kafka, this.options, this.serde, this.deadLetters, opts, this.tuning);
    await run.start();
    const handle: ConsumerHandle = {
      stop: async () => {
        await run.stop();
        this.handles.delete(handle);
      },
      isRunning: () => run.isRunning(),
      commit: (offsets) => run.commit(offsets),
      rewind: (partition, offset) => run.rewind(partition, offset),
    };
    this.handles.add(handle);
    return handle;
  }

  /** Stops every consumer still running (application shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.handles].map((h) => h.stop()));
  }
}

/** One started consumer: a kafkajs consumer in its group, and the state of its assignment. */
class ConsumerRun<T> {
  private readonly log: Logger;
  private consumer: Consumer;
  private readonly consumerConfig: ConsumerConfig;
  /** After a crash kafkajs does not restart from (a non-retriable error): our own restarts. */
  private readonly restartBackoff = new Backoff({ firstMs: 1_000, maxMs: 30_000 });
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly labels: { group: string; topic: string };
  private owned = new Set<number>();
  /** Settles once the current assignment's resume points are known (external offsets). */
  private assignment: Promise<Map<number, ResumePoint>> = Promise.resolve(new Map());
  private joined = false;
  private stopping = false;
  private admin: Admin | undefined;
  /** Rewinds per partition: a batch fetched before one stops delivering its remaining chunks. */
  private readonly rewinds = new Map<number, number>();
  /** eachBatch calls not yet settled. */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly kafka: Kafka,
    options: KafkaOptionsFactory,
    private readonly serde: AvroSerde,
    private readonly deadLetters: DeadLetterSink,
    private readonly opts: ConsumerOptions<T>,
    private readonly tuning: { retry?: RetryOptions; consumer?: Partial<ConsumerConfig> },
  ) {
    this.log = new Logger(`KafkaConsumer ${opts.groupId}`);
    this.labels = { group: opts.groupId, topic: opts.topic.name };
    const batching = opts.fetchBatching && {
      minBytes: opts.fetchBatching.minBytes,
      maxWaitTimeInMs: opts.fetchBatching.maxWaitMs,
    };
    this.consumerConfig = options.consumerConfig(opts.groupId, { ...batching, ...tuning.consumer });
    this.consumer = kafka.consumer(this.consumerConfig);
  }

  async start(): Promise<void> {
    const { GROUP_JOIN, CRASH, STOP, DISCONNECT } = this.consumer.events;
    const consumer = this.consumer;
    this.consumer.on(GROUP_JOIN, ({ payload }) => {
      this.joined = true;
      this.onAssignment(payload.memberAssignment[this.opts.topic.name] ?? []);
    });
    this.consumer.on(CRASH, ({ payload }) => {
      this.joined = false;
      this.log.error(`consumer crashed (restart: ${payload.restart}): ${payload.error.message}`);
      // kafkajs gives up on an error it deems non-retriable (e.g. no group coordinator found after a long
      // broker outage) and leaves the consumer disconnected: the partitions would never be read again.
      if (!payload.restart && !this.stopping && consumer === this.consumer) this.scheduleRestart();
    });
    this.consumer.on(STOP, () => (this.joined = false));
    this.consumer.on(DISCONNECT, () => (this.joined = false));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.opts.topic.name], fromBeginning: this.opts.fromBeginning });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => {
        const done = this.eachBatch(payload);
        this.inFlight.add(done);
        const forget = (): void => void this.inFlight.delete(done);
        done.then(forget, forget);
        return done;
      },
    });
  }

  isRunning(): boolean {
    return this.joined && !this.stopping;
  }

  private scheduleRestart(): void {
    const delay = this.restartBackoff.next();
    this.log.warn(`starting a new consumer in ${delay} ms`);
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  /** A new kafkajs consumer in the group: the assignment that follows resumes as after any rebalance. */
  private async restart(): Promise<void> {
    this.restartTimer = undefined;
    if (this.stopping) return;
    this.consumer = this.kafka.consumer(this.consumerConfig);
    try {
      await this.start();
      this.restartBackoff.reset();
      this.log.log('consumer started again');
    } catch (err) {
      this.log.error(`could not start the consumer again: ${(err as Error).message}`);
      await this.consumer.disconnect().catch(() => undefined);
      if (!this.stopping) this.scheduleRestart();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    if (this.opts.onStopping) {
      // No new batch starts; the ones in progress finish (and commit); then the app's last word,
      // while this consumer is still a member of its group and may commit.
      this.consumer.pause([{ topic: this.opts.topic.name }]);
      await Promise.allSettled([...this.inFlight]);
      await this.opts
        .onStopping()
        .catch((err: unknown) => this.log.error(`onStopping failed: ${(err as Error).message}`));
    }
    // kafkajs waits for the batch in progress (which commits) before leaving the group.
    await this.consumer.disconnect();
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
  }

  async commit(offsets: readonly { topic: string; partition: number; offset: string }[]): Promise<void> {
    await this.consumer.commitOffsets(
      offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
    );
  }

  rewind(partition: number, offset: string): void {
    if (!this.owned.has(partition)) return;
    this.rewinds.set(partition, (this.rewinds.get(partition) ?? 0) + 1);
    const topic = this.opts.topic.name;
    // A resume point like an assignment's: eachBatch drops what lies below it and seeks back once if a
    // batch fetched before the seek starts above it.
    this.assignment = this.assignment.then((points) =>
      new Map(points).set(partition, { offset: BigInt(offset), verified: false, soughtBack: false }),
    );
    this.consumer.seek({ topic, partition, offset });
    this.log.warn(`${topic}/${partition}: rewound to ${offset}`);
  }

  private onAssignment(partitions: readonly number[]): void {
    const now = new Set(partitions);
    const revoked = [...this.owned].filter((p) => !now.has(p));
    this.owned = now;
    if (revoked.length > 0) this.opts.onRevoked?.(revoked);
    if (this.opts.resumeFrom === undefined) return;
    const assignment = this.resumePoints(partitions);
    this.assignment = assignment;
    assignment.catch((err: unknown) => this.log.error(`resumeFrom failed: ${(err as Error).message}`));
  }

  /** Asks the app where each partition resumes and seeks there; unknown partitions per fromBeginning. */
  private async resumePoints(partitions: readonly number[]): Promise<Map<number, ResumePoint>> {
    const topic = this.opts.topic.name;
    const resume = await (this.opts.resumeFrom as NonNullable<ConsumerOptions<T>['resumeFrom']>)(partitions);
    const missing = partitions.filter((p) => !resume.has(p));
    const bounds = missing.length > 0 ? await this.bounds() : new Map<number, { low: string; high: string }>();
    const points = new Map<number, ResumePoint>();
    for (const partition of partitions) {
      const known = resume.get(partition);
      const bound = bounds.get(partition);
      const offset = known ?? (this.opts.fromBeginning ? bound?.low : bound?.high) ?? '0';
      points.set(partition, { offset: BigInt(offset), verified: false, soughtBack: false });
      this.consumer.seek({ topic, partition, offset });
    }
    return points;
  }

  private async bounds(): Promise<Map<number, { low: string; high: string }>> {
    if (this.admin === undefined) {
      this.admin = this.kafka.admin();
      await this.admin.connect();
    }
    const offsets = await this.admin.fetchTopicOffsets(this.opts.topic.name);
    return new Map(offsets.map((o) => [o.partition, { low: o.low, high: o.high }]));
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    // The assignment's resume points (external offsets), and any rewind's.
    const resumePoints = await this.assignment;
    if (payload.isStale() || batch.messages.length === 0) return;
    let messages = batch.messages;
    const point = resumePoints.get(batch.partition);
    if (point !== undefined && !point.verified) {
      const first = BigInt(messages[0].offset);
      if (first > point.offset && !point.soughtBack) {
        // Fetched from an older position (e.g. a committed offset ahead of the database's).
        point.soughtBack = true;
        this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: point.offset.toString() });
        return;
      }
      messages = messages.filter((m) => BigInt(m.offset) >= point.offset);
      if (messages.length === 0) {
        payload.resolveOffset(batch.lastOffset());
        return;
      }
      point.verified = true;
    }
    const max = this.opts.maxBatchMessages ?? Number.POSITIVE_INFINITY;
    const rewinds = this.rewinds.get(batch.partition) ?? 0;
    for (let start = 0; start < messages.length; start += max) {
      if (!payload.isRunning() || payload.isStale() || this.stopping) return;
      if ((this.rewinds.get(batch.partition) ?? 0) !== rewinds) return;
      const chunk = messages.slice(start, start + max);
      try {
        await this.process(payload, batch, chunk);
      } catch (err) {
        if (err instanceof Stopped) return;
        throw err;
      }
    }
  }

  private async process(payload: EachBatchPayload, batch: Batch, chunk: KafkaMessage[]): Promise<void> {
    const { topic, partition } = batch;
    const lastOffset = chunk[chunk.length - 1].offset;
    const nextOffset = (BigInt(lastOffset) + 1n).toString();
    const lag = Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(nextOffset)));
    const retry = {
      ...(this.tuning.retry ?? DEFAULT_RETRY),
      shouldStop: () => this.stopping || !payload.isRunning() || payload.isStale() || !this.owned.has(partition),
      whileWaiting: () => payload.heartbeat(),
    };
    const { messages, markers } = await retryUntilDone(
      () => decodeBatch(this.serde, this.deadLetters, this.opts.topic, partition, chunk.map(toRaw)),
      {
        ...retry,
        onFailure: (err, n, delay) => this.warn('decoding', topic, partition, chunk[0].offset, err, n, delay),
      },
    );
    if (messages.length > 0 || markers.length > 0) {
      const consumed: ConsumedBatch<T> = { topic, partition, messages, markers, nextOffset, lag };
      consumerBatchSize().observe(this.labels, messages.length);
      const headers = messages.map((m) => m.headers);
      // A slow onBatch (a large database transaction) must not cost this member its place in the group.
      const keepAlive = setInterval(() => void payload.heartbeat().catch(() => undefined), HEARTBEAT_WHILE_BUSY_MS);
      try {
        await retryUntilDone(() => inBatchSpan(topic, partition, headers, () => this.opts.onBatch(consumed)), {
          ...retry,
          onFailure: (err, n, delay) => {
            consumerBatchFailures().inc(this.labels);
            this.warn('onBatch', topic, partition, chunk[0].offset, err, n, delay);
          },
        });
      } finally {
        clearInterval(keepAlive);
      }
    }
    payload.resolveOffset(lastOffset);
    if (this.opts.resumeFrom === undefined)
      await this.consumer.commitOffsets([{ topic, partition, offset: nextOffset }]);
    consumerLag().set({ ...this.labels, partition: String(partition) }, lag);
    await payload.heartbeat();
  }

  private warn(
    what: string,
    topic: string,
    partition: number,
    offset: string,
    err: unknown,
    attempt: number,
    delayMs: number,
  ): void {
    this.log.error(
      `${topic}[${partition}]@${offset}: ${what} failed (attempt ${attempt}), retrying in ${delayMs} ms: ${(err as Error).message ?? String(err)}`,
    );
  }
}
