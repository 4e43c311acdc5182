import { TopicSpec } from '@lib/kafka-avro/messaging';

/**
 * Reads a compacted changelog topic back at start-up (a real I/O boundary: Kafka, or the in-process
 * transport's log).
 * - Returns every committed value (read_committed: nothing of an aborted or open transaction) from the
 *   beginning of each partition up to its end as of the call, in offset order within a partition.
 * - Call it after the transactional producer that writes the topic has registered (fencing older
 *   instances and aborting their open transaction), so the end it waits for is final.
 * - Rejects, rather than returning a partial read, when a partition's end cannot be reached in time.
 */
export abstract class ChangelogReader {
  abstract readAll<T>(topic: TopicSpec<T>): Promise<T[]>;
}
