import { DeadLetterSink } from '../dead-letter/dead-letter';
import { MARKER_HEADER, type ConsumedMarker, type ConsumedMessage, type TopicSpec } from '../messaging';
import { AvroSerde, DecodeError } from '../serde/avro.serde';
import { keyToString, RawMessage } from './raw-message';

/** A partition batch's records, decoded: its messages and its markers, each in offset order. */
export interface DecodedBatch<T> {
  readonly messages: ConsumedMessage<T>[];
  readonly markers: ConsumedMarker[];
}

/**
 * Decodes the messages of one partition batch. A record without a value that carries
 * {@link MARKER_HEADER} is a marker and goes to `markers`. A message that is not valid Avro of the
 * topic's schema, or whose value breaks the topic's rules (`TopicSpec.validate`), goes to the
 * dead-letter topic and is left out; any other failure (a dead-letter write, a schema registry that
 * does not answer) rejects, so the caller retries the batch instead of skipping.
 */
export async function decodeBatch<T>(
  serde: AvroSerde,
  deadLetters: DeadLetterSink,
  topic: TopicSpec<T>,
  partition: number,
  raw: readonly RawMessage[],
): Promise<DecodedBatch<T>> {
  const decoded: ConsumedMessage<T>[] = [];
  const markers: ConsumedMarker[] = [];
  for (const message of raw) {
    if (message.value === null && message.headers[MARKER_HEADER] !== undefined) {
      markers.push({ offset: message.offset, key: keyToString(message.key), headers: message.headers });
      continue;
    }
    let value: T;
    try {
      if (message.value === null) throw new DecodeError('message without a value (tombstone)');
      value = await serde.decode<T>(topic.name, topic.schemaName, message.value);
      validated(topic, value);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      await deadLetters.send({ topic: topic.name, partition, ...message, error: err });
      continue;
    }
    decoded.push({
      topic: topic.name,
      partition,
      offset: message.offset,
      key: keyToString(message.key),
      value,
      headers: message.headers,
      timestamp: message.timestamp,
    });
  }
  return { messages: decoded, markers };
}

function validated<T>(topic: TopicSpec<T>, value: T): void {
  if (topic.validate === undefined) return;
  try {
    topic.validate(value);
  } catch (err) {
    throw new DecodeError(
      `breaks the rules of ${topic.name}: ${err instanceof Error ? err.message : String(err)}`,
      err,
    );
  }
}
