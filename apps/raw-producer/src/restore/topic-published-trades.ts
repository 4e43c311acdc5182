import { DeribitTrade, PublishedTrades } from '@lib/domain';
import { TopicReader, TopicSpec } from '@lib/kafka-avro';

/** Avro decodes absent optional fields as null; DeribitTrade leaves them out. */
function withoutNulls(value: DeribitTrade): DeribitTrade {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = v;
  return out as unknown as DeribitTrade;
}

/**
 * PublishedTrades read through the messaging module's TopicReader (Kafka or the in-process log, whichever
 * the app runs on): the last `perPartition` offsets of each partition of the trades topic, committed
 * records only, complete or rejected within `timeoutMs`.
 */
export class TopicPublishedTrades extends PublishedTrades {
  constructor(
    private readonly reader: TopicReader,
    private readonly topic: TopicSpec<DeribitTrade>,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  async tail(perPartition: number): Promise<DeribitTrade[]> {
    const trades = await this.reader.readToEnd(this.topic, {
      lastPerPartition: perPartition,
      timeoutMs: this.timeoutMs,
    });
    return trades.map(withoutNulls);
  }
}
