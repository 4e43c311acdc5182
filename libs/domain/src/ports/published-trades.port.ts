import { DeribitTrade } from '../market/deribit-trade';

/**
 * The trades topic read back: what earlier runs of raw-producer already published. A real I/O boundary
 * (Kafka, or the in-process transport's log), read once at start-up so a restarted producer continues
 * each instrument's trade_seq where the topic ends instead of from nothing.
 *
 * Contract of `tail(perPartition)`:
 * - returns the committed trades among the last `perPartition` offsets of every partition of the topic
 *   (read_committed: nothing of an aborted or open transaction; transaction markers and aborted records
 *   take offsets too, so a transactional writer's tail gives fewer), as of the call, in offset order
 *   within a partition; partitions follow each other in no particular order; an empty or missing topic
 *   gives [];
 * - it is complete up to the end each partition had when the call started, or it rejects: a partial
 *   read would let already-published trades through again;
 * - a caller that needs every instrument's last trade must ask for enough: an instrument whose last
 *   trade lies further back in its partition than `perPartition` records is not in the answer.
 */
export abstract class PublishedTrades {
  abstract tail(perPartition: number): Promise<DeribitTrade[]>;
}
