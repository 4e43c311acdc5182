import { CustomTransportStrategy, KafkaContext, Server, Transport } from '@nestjs/microservices';
import { finalize, isObservable, lastValueFrom } from 'rxjs';
import type { BaseRpcContext, ReadPacket } from '@nestjs/microservices';
import { RawMessage } from '@lib/kafka-avro/consuming/raw-message';
import { DeadLetterSink } from '@lib/kafka-avro/dead-letter/dead-letter';
import { InMemoryBroker } from '../in-memory.broker';
import { InMemorySubscription } from '../in-memory.subscription';
import type { TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { AvroKafkaDeserializer, DEAD_LETTERED } from '@lib/kafka-avro/nest/avro-kafka.deserializer';
import { restoreTraceContext } from '@lib/kafka-avro/nest/trace-context.hook';

export interface InProcessTransportOptions {
  readonly broker: InMemoryBroker;
  /** Consumer group of this server (Kafka: the microservice's `consumer.groupId`). */
  readonly groupId: string;
  readonly serde: AvroSerde;
  readonly topics: readonly TopicSpec<unknown>[];
  readonly deadLetters: DeadLetterSink;
  /** Where a group without committed offsets starts; default true, as the Kafka server options. */
  readonly fromBeginning?: boolean;
}

/**
 * A Nest microservice transport on the in-memory log of the embedded mode, so `@EventPattern(topic)`
 * handlers written for the Kafka transport run unchanged: the same deserializer turns the raw Avro
 * Buffer into the value (poison to `<topic>.dlq`), the handler gets a `KafkaContext` with the message
 * (key, headers, offset, the Buffer value), partition and topic, and runs in the message's trace
 * context. Like ServerKafka, a message is committed once its handler finished, and a handler that
 * throws gets the message again (with backoff). The context has no kafkajs consumer or producer.
 *
 * Its transportId is Transport.KAFKA so that handlers bound to that transport explicitly run here too.
 */
export class InProcessTransport extends Server implements CustomTransportStrategy {
  override readonly transportId = Transport.KAFKA;
  override readonly propagatesEventHandlerErrors = true;
  private subscription: InMemorySubscription | undefined;

  constructor(private readonly options: InProcessTransportOptions) {
    super();
    this.deserializer = new AvroKafkaDeserializer(options.serde, options.topics, options.deadLetters);
    this.setOnProcessingStartHook(restoreTraceContext);
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      const topics = [...this.messageHandlers.keys()].filter((pattern) =>
        this.options.topics.some((t) => t.name === pattern),
      );
      if (topics.length > 0) {
        this.subscription = new InMemorySubscription(this.options.broker, {
          groupId: this.options.groupId,
          topics,
          fromBeginning: this.options.fromBeginning ?? true,
          maxBatchMessages: 1,
          handle: (topic, partition, messages) => this.handleMessage(topic, partition, messages[0]),
        });
        await this.subscription.start();
      }
      callback();
    } catch (err) {
      callback(err);
    }
  }

  async close(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = undefined;
  }

  on(): never {
    throw new Error('events are not supported by the in-process transport');
  }

  unwrap<T>(): T {
    return this.options.broker as T;
  }

  /** As ServerKafka: the handler's result (or stream) is awaited, so its failure reaches the consumer loop. */
  override async handleEvent(pattern: string, packet: ReadPacket, ctx: BaseRpcContext): Promise<void> {
    // Already in the dead-letter topic, and logged there.
    if (pattern === DEAD_LETTERED && !this.messageHandlers.has(DEAD_LETTERED)) return;
    const handler = this.getHandlerByPattern(pattern);
    if (!handler) {
      this.logger.error(`There is no matching event handler defined for pattern ${pattern}`);
      return;
    }
    await this.runWithProcessingHooks(ctx, async (runEndHook) => {
      const result = await handler(packet.data, ctx);
      if (isObservable(result)) await lastValueFrom(result.pipe(finalize(runEndHook)), { defaultValue: undefined });
      else runEndHook();
    });
  }

  private async handleMessage(topic: string, partition: number, raw: RawMessage): Promise<void> {
    // What kafkajs hands ServerKafka, after Nest's parser with keepBinary: key and headers as text.
    const message = {
      topic,
      partition,
      offset: raw.offset,
      key: raw.key,
      value: raw.value,
      headers: { ...raw.headers },
      timestamp: String(raw.timestamp),
      attributes: 0,
      size: raw.value?.length ?? 0,
    };
    const packet = await this.deserializer.deserialize(message, { channel: topic });
    const heartbeat = async (): Promise<void> => undefined;
    const ctx = new KafkaContext([
      message as never,
      partition,
      topic,
      undefined as never,
      heartbeat,
      undefined as never,
    ]);
    await this.handleEvent(packet.pattern, packet as ReadPacket, ctx);
  }
}
