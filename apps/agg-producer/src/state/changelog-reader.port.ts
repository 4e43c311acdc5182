import { TopicSpec } from '@lib/kafka-avro/messaging';

/**
 * A compacted changelog topic, read back at start-up (a real I/O boundary: Kafka, or the in-process
 * transport's log). Writes go through the TransactionalPublisher, atomically with the rest.
 * - Returns every committed value (read_committed: nothing of an aborted or open transaction) from the
 *   beginning of each partition up to its end as of the call, in offset order within a partition.
 * - Call it after the transactional producer that writes the topic has registered (fencing older
 *   instances and aborting their open transaction), so the end it waits for is final.
 * - Rejects, rather than returning a partial read, when a partition's end cannot be reached in time.
 */
export abstract class ChangelogReader {
  /** Makes sure the topic exists and is compacted (only the latest record of a key is kept). Idempotent. */
  abstract prepare(topic: TopicSpec<unknown>): Promise<void>;

  abstract readAll<T>(topic: TopicSpec<T>): Promise<T[]>;
}
