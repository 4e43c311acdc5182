import { DeribitTrade, PublishedTrades } from '@lib/domain';
import { TopicRangeReadOptions, readTopicRanges } from '@lib/kafka-avro/kafka/kafka-topic-range.reader';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';
import { Kafka } from 'kafkajs';

export type KafkaPublishedTradesOptions = TopicRangeReadOptions;

/** Avro decodes absent optional fields as null; DeribitTrade leaves them out. */
function withoutNulls(value: DeribitTrade): DeribitTrade {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = v;
  return out as unknown as DeribitTrade;
}

/**
 * PublishedTrades on kafkajs: each partition read from `perPartition` records before its last stable
 * offset up to there (readTopicRanges: read_committed, a throwaway group deleted afterwards).
 */
export class KafkaPublishedTrades extends PublishedTrades {
  constructor(
    private readonly kafka: Kafka,
    private readonly serde: AvroSerde,
    private readonly topic: TopicSpec<DeribitTrade>,
    private readonly options: KafkaPublishedTradesOptions,
  ) {
    super();
  }

  async tail(perPartition: number): Promise<DeribitTrade[]> {
    const trades = await readTopicRanges(this.kafka, this.serde, this.topic, this.options, ({ high }) => {
      return high - BigInt(perPartition);
    });
    return trades.map(withoutNulls);
  }
}
