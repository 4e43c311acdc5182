import { Headers, Marker, markerHeaders, MessagePublisher, PublishError, TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde, EncodeError } from '@lib/kafka-avro/serde/avro.serde';
import { inPublishSpan } from '@lib/kafka-avro/tracing/tracing.setup';
import { InMemoryBroker, OutgoingRecord } from './in-memory.broker';

/** Encodes values as the Kafka publisher does, so the embedded mode exercises the same serde. */
export async function encodeRecords<T>(
  serde: AvroSerde,
  topic: TopicSpec<T>,
  values: readonly T[],
  traced: Headers,
): Promise<OutgoingRecord[]> {
  const records: OutgoingRecord[] = [];
  for (const value of values) {
    try {
      records.push({
        topic: topic.name,
        key: topic.key(value),
        value: await serde.encode(topic.name, topic.schemaName, value),
        headers: traced,
      });
    } catch (err) {
      if (err instanceof EncodeError)
        throw new PublishError(`cannot publish to ${topic.name}: ${err.message}`, 'rejected', err);
      throw err;
    }
  }
  return records;
}

/**
 * MessagePublisher of the embedded mode: a publish is appended to the in-process log in full, and
 * resolves at once (in memory) or once it is on disk (durable broker: concurrent publishes share one
 * fsync). It never times out; after close, or once the durable log failed, it is unavailable.
 */
export class InProcessMessagePublisher extends MessagePublisher {
  private closed = false;

  constructor(
    private readonly broker: InMemoryBroker,
    private readonly serde: AvroSerde,
  ) {
    super();
  }

  override async publish<T>(
    topic: TopicSpec<T>,
    values: readonly T[],
    opts?: { timeoutMs?: number; headers?: Headers },
  ): Promise<void> {
    if (this.closed) throw new PublishError('the in-process transport is closed', 'unavailable');
    if (values.length === 0) return;
    await inPublishSpan(topic.name, values.length, opts?.headers, async (headers) => {
      const records = await encodeRecords(this.serde, topic, values, headers);
      await this.broker.append(records).catch((err: unknown) => {
        throw new PublishError(`cannot publish to ${topic.name}: ${(err as Error).message}`, 'unavailable', err);
      });
    });
  }

  override async publishMarkers(topic: TopicSpec<unknown>, markers: readonly Marker[]): Promise<void> {
    if (this.closed) throw new PublishError('the in-process transport is closed', 'unavailable');
    if (markers.length === 0) return;
    const records = markers.map((m) => ({
      topic: topic.name,
      key: m.key,
      value: null,
      headers: markerHeaders(m),
    }));
    await this.broker.append(records).catch((err: unknown) => {
      throw new PublishError(`cannot publish to ${topic.name}: ${(err as Error).message}`, 'unavailable', err);
    });
  }

  override isReady(): boolean {
    return !this.closed && this.broker.healthy;
  }

  close(): void {
    this.closed = true;
  }
}
