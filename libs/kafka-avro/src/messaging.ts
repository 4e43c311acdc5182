/**
 * The messaging contract every app codes against. Two implementations exist: Kafka (kafkajs with
 * the Avro serde) and in-process (the embedded mode); the same contract tests run against both.
 * Values are typed by their topic; encoding, trace context and dead letters happen underneath.
 */

/** A topic, the Avro type of its values and how a value's key is derived. */
export interface TopicSpec<T> {
  /** Kafka topic name (from config). */
  readonly name: string;
  /** Name of the Avro record written to this topic (see schemas/). */
  readonly schemaName: string;
  /** The message key: it decides the partition, so all events of one key stay in order. */
  key(value: T): string;
  /**
   * Rules beyond the schema that a consumed value must meet (a topic can be written by producers
   * that do not check them); throws when one is broken. Such a message is poison: consumers send it
   * to the dead-letter topic and move on, as with one that does not decode.
   */
  validate?(value: T): void;
}

/** W3C trace context and any other string headers. */
export type Headers = Readonly<Record<string, string>>;

export interface ConsumedMessage<T> {
  readonly topic: string;
  readonly partition: number;
  /** Kafka offsets are int64; kept as decimal strings as kafkajs does. */
  readonly offset: string;
  readonly key: string;
  readonly value: T;
  readonly headers: Headers;
  /** Broker/producer timestamp, epoch ms. */
  readonly timestamp: number;
}

/**
 * A record without a value that marks a point in its partition's order, for the partition's readers: a
 * source's watermark ("every value of this key up to time t is before me"), for example. Written with
 * {@link MessagePublisher.publishMarkers}; consumers receive it beside the batch's messages, never as a
 * message, and topic readers skip it (it has no value).
 */
export interface Marker {
  /** Decides the partition, as a value's key does: the marker follows what was published under it. */
  readonly key: string;
  /** What the marker says; the transport adds {@link MARKER_HEADER}. */
  readonly headers: Headers;
}

/** The header that tells a marker from a tombstone (both have no value); its value is the marker's kind. */
export const MARKER_HEADER = 'x-marker';

/** The headers a marker is written with: its own, and {@link MARKER_HEADER} (kind `marker` unless it names one). */
export const markerHeaders = (marker: Marker): Headers => ({
  ...marker.headers,
  [MARKER_HEADER]: marker.headers[MARKER_HEADER] ?? 'marker',
});

/** A marker as consumed: where it sits and what it says (its headers include {@link MARKER_HEADER}). */
export interface ConsumedMarker extends Marker {
  readonly offset: string;
}

/** Consecutive messages of one partition in offset order. */
export interface ConsumedBatch<T> {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly ConsumedMessage<T>[];
  /**
   * Markers among the batch's records, in offset order (absent or empty when there were none); a batch may
   * hold markers only. The messages before a marker's offset precede it, those after it follow.
   */
  readonly markers?: readonly ConsumedMarker[];
  /** Offset of the message after the last one: what a commit of this batch stores. */
  readonly nextOffset: string;
  /** Messages left in the partition behind this batch when it was fetched (consumer lag). */
  readonly lag: number;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: string;
}

/** Rejected publish: nothing may be assumed written. Maps to 503 at the gateway. */
export class PublishError extends Error {
  constructor(
    message: string,
    readonly reason: 'timeout' | 'unavailable' | 'rejected',
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

/**
 * Publishes values to topics.
 * - `publish` resolves only once every value is durably written (Kafka: idempotent producer,
 *   acks=all) and rejects with PublishError otherwise, at the latest after `timeoutMs`.
 * - Values of one key keep their order. Concurrent calls are batched into shared produce requests
 *   (linger and batch size from config), so many small calls cost about as much as one large one.
 */
export abstract class MessagePublisher {
  abstract publish<T>(
    topic: TopicSpec<T>,
    values: readonly T[],
    opts?: { timeoutMs?: number; headers?: Headers },
  ): Promise<void>;
  /**
   * Writes value-less marker records (see {@link Marker}), each to the partition of its key, after
   * everything published before the call under that key; resolves once they are durably written, as
   * `publish` does.
   */
  abstract publishMarkers(
    topic: TopicSpec<unknown>,
    markers: readonly Marker[],
    opts?: { timeoutMs?: number },
  ): Promise<void>;
  /** Ready to publish (connected, topics present); used by readiness checks. */
  abstract isReady(): boolean;
}

export interface ConsumerOptions<T> {
  readonly groupId: string;
  readonly topic: TopicSpec<T>;
  /** Where a group with no stored offset starts. */
  readonly fromBeginning: boolean;
  /**
   * Called with each batch, one partition at a time per partition, in offset order. Messages that
   * fail to decode never reach it: they go to `<topic>.dlq` and are counted.
   * Throwing makes the consumer retry the same batch with backoff: a batch is never skipped.
   */
  onBatch(batch: ConsumedBatch<T>): Promise<void>;
  /**
   * Offsets kept outside the broker (exactly-once into a database). When given:
   * - on every assignment it is called with the assigned partitions and returns where each resumes
   *   (a partition missing from the map starts per `fromBeginning`); the consumer seeks there and
   *   never delivers a message below that offset, even if the broker's committed offset is older;
   * - the consumer commits to Kafka only what `commit` is told (as a monitoring hint).
   * When absent, the consumer commits each batch's `nextOffset` after `onBatch` resolves.
   */
  readonly resumeFrom?: (partitions: readonly number[]) => Promise<ReadonlyMap<number, string>>;
  /** Called after a rebalance took partitions away; their in-memory state must be dropped. */
  readonly onRevoked?: (partitions: readonly number[]) => void;
  /**
   * Called by `stop()` once fetching has stopped and the batch in progress has finished, before the
   * consumer leaves its group: a last flush can still record its offsets with `commit`. Its failure
   * is logged; the stop goes on.
   */
  readonly onStopping?: () => Promise<void>;
  /**
   * Throughput over latency: a fetch waits up to `maxWaitMs` for `minBytes` to accumulate, so a
   * steady stream arrives in fewer, larger batches (fewer round trips downstream). Default: a fetch
   * answers as soon as anything is there. The in-process log delivers at once either way.
   */
  readonly fetchBatching?: { readonly minBytes: number; readonly maxWaitMs: number };
  /** Upper bound of messages handed to one onBatch call. */
  readonly maxBatchMessages?: number;
  /**
   * How many partitions may be in onBatch at the same time (each partition still one batch at a
   * time, in offset order). Default 1.
   */
  readonly partitionsConsumedConcurrently?: number;
}

export interface ConsumerHandle {
  /** Stops fetching, waits for the onBatch in progress, commits it, leaves the group. */
  stop(): Promise<void>;
  /** Joined the group and fetching. */
  isRunning(): boolean;
  /** With external offsets: record offsets in the broker too (for lag monitoring only). */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /**
   * Delivers an assigned partition again from `offset` (with external offsets: where the app's store says
   * it resumes, after its state of the partition was dropped). The batch in progress finishes; batches
   * after it start at `offset`, and nothing fetched before the rewind is delivered after it. Ignored for a
   * partition this consumer no longer owns.
   */
  rewind(partition: number, offset: string): void;
}

export abstract class MessageConsumer {
  abstract start<T>(opts: ConsumerOptions<T>): Promise<ConsumerHandle>;
}

/**
 * Exactly-once read-process-write: everything published in `work` and the consumed offsets become
 * visible together or not at all (Kafka transactions; readers use read_committed).
 */
export interface Transaction {
  publish<T>(topic: TopicSpec<T>, values: readonly T[]): Promise<void>;
  /** Commit these consumed offsets of `groupId` as part of the transaction. */
  commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
}

export abstract class TransactionalPublisher {
  /** Runs `work` in one transaction; aborts and rethrows if it throws or the commit fails. */
  abstract inTransaction(work: (tx: Transaction) => Promise<void>): Promise<void>;
}

/** What `TopicReader.readToEnd` reads. */
export interface TopicReadOptions {
  /** Per partition, only the last `n` offsets before its end; default: from its start. */
  readonly lastPerPartition?: number;
  /** A read that has not reached every partition's end by then rejects. */
  readonly timeoutMs: number;
}

/**
 * Reads a topic back once, to its end as of the call: state restored at start-up (a changelog, the tail
 * of what an earlier run published). Both transports implement it; the same contract tests run on both.
 * - Returns every committed value (read_committed: nothing of an aborted or open transaction) of each
 *   partition, from its start (or `lastPerPartition` offsets before its end: markers and aborted records
 *   take offsets too) up to its end when the read starts, in offset order within a partition;
 *   partitions follow each other in no particular order. Null values (tombstones) are skipped; a
 *   missing or empty topic reads as [].
 * - Complete or rejected: a partition whose end is not reached within `timeoutMs` fails the read.
 * - A writer's transactions must be settled for its end to be final: call it after the transactional
 *   publisher that writes the topic has registered (fencing an older instance, aborting its open work).
 */
export abstract class TopicReader {
  /**
   * Creates the topic when missing; `compacted` makes sure log compaction is on (only the latest record
   * of a key kept), also for a topic created otherwise. Idempotent.
   */
  abstract ensureTopic(topic: TopicSpec<unknown>, opts?: { readonly compacted?: boolean }): Promise<void>;

  abstract readToEnd<T>(topic: TopicSpec<T>, opts: TopicReadOptions): Promise<T[]>;
}
