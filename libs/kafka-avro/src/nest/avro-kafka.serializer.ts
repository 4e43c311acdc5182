import type { Serializer } from '@nestjs/microservices';
import type { TopicSpec } from '../messaging';
import { AvroSerde } from '../serde/avro.serde';
import { injectTraceContext } from '../tracing/trace-context';

/** What `ClientKafka.emit(topic, data)` may be given: the value itself, or a message around it. */
export type EmittedMessage<T> = T | { key?: string; value: T; headers?: Record<string, string> };

export interface SerializedMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** A message-shaped object; none of our record types has a `value` field, so values are never mistaken for it. */
function isMessage<T>(data: EmittedMessage<T>): data is { key?: string; value: T; headers?: Record<string, string> } {
  return typeof data === 'object' && data !== null && 'value' in data;
}

/**
 * Nest `Serializer` for `ClientKafka` (and the in-process client): the pattern is the topic, whose
 * TopicSpec gives the schema and the key; the active trace context goes into the headers.
 */
export class AvroKafkaSerializer implements Serializer<unknown, Promise<SerializedMessage>> {
  private readonly topics: ReadonlyMap<string, TopicSpec<unknown>>;

  constructor(
    private readonly serde: AvroSerde,
    topics: readonly TopicSpec<unknown>[],
  ) {
    this.topics = new Map(topics.map((t) => [t.name, t]));
  }

  async serialize(data: unknown, options?: { pattern?: string }): Promise<SerializedMessage> {
    const topic = options?.pattern === undefined ? undefined : this.topics.get(options.pattern);
    if (topic === undefined) {
      throw new Error(
        `no TopicSpec for pattern ${JSON.stringify(options?.pattern)}: emit to one of ${[...this.topics.keys()].join(', ')}`,
      );
    }
    const message = isMessage(data) ? data : { value: data };
    return {
      key: message.key ?? topic.key(message.value),
      value: await this.serde.encode(topic.name, topic.schemaName, message.value),
      headers: injectTraceContext({ ...message.headers }),
    };
  }
}
