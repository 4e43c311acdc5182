import type { ClientProxy, CustomTransportStrategy } from '@nestjs/microservices';
import type { DeadLetterSink } from './dead-letter/dead-letter';
import type { MessageConsumer, MessagePublisher, TopicReader, TopicSpec, TransactionalPublisher } from './messaging';
import type { MessagingConfig } from './messaging.config';
import type { AvroSerde } from './serde/avro.serde';

/** What a transport is built from: the app, its config, the serde and the topics it uses. */
export interface MessagingTransportContext {
  readonly app: string;
  readonly config: MessagingConfig;
  readonly serde: AvroSerde;
  readonly topics: readonly TopicSpec<unknown>[];
  /** Transactional id to register at start-up, when the app configured one. */
  readonly transactionalId?: string;
}

/**
 * One implementation of the messaging ports and of Nest's transport, with its lifecycle. The module
 * picks it from TRANSPORT: Kafka (kafka/kafka.transport.ts, in this library) or the in-process log
 * (`@lib/in-process-log`, which only the embedded mode and tests supply: see KafkaAvroModuleOptions).
 */
export interface MessagingTransport {
  readonly publisher: MessagePublisher;
  readonly consumer: MessageConsumer;
  readonly transactional: TransactionalPublisher;
  readonly reader: TopicReader;
  readonly deadLetters: DeadLetterSink;
  /** Start-up: the topics exist, clients are connected. Rejects, and the app does not start, when unusable. */
  start(): Promise<void>;
  /** Throws what is wrong while the transport cannot serve (readiness). */
  checkReady(): void;
  /** Shutdown, after the HTTP server closed: consumers, then publishers. */
  close(): Promise<void>;
  /** A Nest microservice strategy consuming the topics as group `groupId` (handlers in the message's trace context). */
  nestServer(groupId: string, opts: { readonly fromBeginning: boolean }): CustomTransportStrategy;
  /** A Nest client emitting Avro events to the topics. */
  nestClient(): NestEventClient;
}

/** What a Nest client of either transport offers (ClientKafka, the in-process client). */
export type NestEventClient = Pick<ClientProxy, 'connect' | 'close' | 'emit' | 'send'>;

export type MessagingTransportFactory = (context: MessagingTransportContext) => MessagingTransport;
