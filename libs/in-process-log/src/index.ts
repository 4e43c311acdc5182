/**
 * The in-process log: a durable, Kafka-like log in the process (partitions, groups, transactions,
 * compaction), and the messaging ports and Nest transport on it. The embedded mode's transport; apps
 * never import it (dependency-cruiser rule `in-process-log-is-the-embedded-modes`): they get it through
 * KafkaAvroModule's `inProcess` option, which only apps/embedded, tests and benches set.
 */
export { InMemoryBroker, sharedInMemoryBroker } from './in-memory.broker';
export type { InMemoryBrokerOptions } from './in-memory.broker';
export { inProcessTransport } from './in-process.transport-factory';
export type { InProcessMessagingTransport } from './in-process.transport-factory';
export { InProcessTransport } from './nest/in-process.transport';
export { InProcessClient } from './nest/in-process.client';
