import { ClientProxy, ReadPacket, WritePacket } from '@nestjs/microservices';
import { InMemoryBroker } from '../in-memory.broker';
import type { TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { AvroKafkaSerializer } from '@lib/kafka-avro/nest/avro-kafka.serializer';

/**
 * The embedded mode's stand-in for `ClientKafka`: `emit(topic, value)` encodes with the same
 * serializer (Avro, key from the TopicSpec, trace context in headers) and appends to the in-memory
 * log that {@link InProcessTransport} servers consume. Events only: request-response is refused.
 */
export class InProcessClient extends ClientProxy {
  constructor(
    private readonly broker: InMemoryBroker,
    serde: AvroSerde,
    topics: readonly TopicSpec<unknown>[],
  ) {
    super();
    this.serializer = new AvroKafkaSerializer(serde, topics);
  }

  async connect(): Promise<void> {}

  close(): void {}

  unwrap<T>(): T {
    return this.broker as T;
  }

  protected publish(_packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    callback({ err: new Error('the in-process transport carries events only (use emit)'), isDisposed: true });
    return () => undefined;
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const topic = this.normalizePattern(packet.pattern);
    const message = await this.serializer.serialize(packet.data, { pattern: topic });
    this.broker.append([{ topic, key: message.key, value: message.value, headers: message.headers }]);
    return undefined as T;
  }
}
