import type { Deserializer, IncomingEvent } from '@nestjs/microservices';
import { DeadLetterSink } from '../dead-letter/dead-letter';
import type { TopicSpec } from '../messaging';
import { AvroSerde, DecodeError } from '../serde/avro.serde';
import { headersToStrings } from '../tracing/trace-context';

/**
 * The pattern of a message that went to the dead-letter topic instead of a handler. Nest logs
 * "no matching event handler" for it unless an app registers `@EventPattern(DEAD_LETTERED)`.
 */
export const DEAD_LETTERED = 'kafka-avro.dead-lettered';

/** The message Nest's Kafka parser hands over with `keepBinary`: value untouched, key and headers strings. */
export interface ParsedKafkaMessage {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers?: Record<string, unknown>;
}

/**
 * Nest `Deserializer` for the Kafka microservice server (with `parser: { keepBinary: true }`) and the
 * in-process transport. A value that cannot be decoded goes to `<topic>.dlq` before this resolves,
 * so the consumer moves on; if the dead letter cannot be written this rejects, and kafkajs delivers
 * the message again rather than losing it.
 */
export class AvroKafkaDeserializer implements Deserializer<ParsedKafkaMessage, Promise<IncomingEvent>> {
  private readonly topics: ReadonlyMap<string, TopicSpec<unknown>>;

  constructor(
    private readonly serde: AvroSerde,
    topics: readonly TopicSpec<unknown>[],
    private readonly deadLetters: DeadLetterSink,
  ) {
    this.topics = new Map(topics.map((t) => [t.name, t]));
  }

  async deserialize(message: ParsedKafkaMessage, options?: { channel?: string }): Promise<IncomingEvent> {
    const topicName = options?.channel ?? message.topic ?? '';
    const topic = this.topics.get(topicName);
    if (topic === undefined) {
      throw new Error(
        `no TopicSpec for topic ${JSON.stringify(topicName)} (known: ${[...this.topics.keys()].join(', ')})`,
      );
    }
    if (typeof message.value === 'string') {
      // A misconfiguration, not a poison message: every message would be dead-lettered.
      throw new Error(`the value of ${topicName} reached the deserializer as text: set parser: { keepBinary: true }`);
    }
    try {
      if (message.value === null) throw new DecodeError('message without a value (tombstone)');
      return { pattern: topicName, data: await this.serde.decode(topic.name, topic.schemaName, message.value) };
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      await this.deadLetters.send({
        topic: topicName,
        partition: message.partition ?? -1,
        offset: message.offset ?? '-1',
        key: message.key ?? null,
        value: message.value,
        headers: headersToStrings(message.headers),
        error: err,
      });
      return {
        pattern: DEAD_LETTERED,
        data: { topic: topicName, partition: message.partition, offset: message.offset },
      };
    }
  }
}
