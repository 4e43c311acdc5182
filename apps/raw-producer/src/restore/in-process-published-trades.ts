import { DeribitTrade, PublishedTrades } from '@lib/domain';
import { InMemoryBroker } from '@lib/kafka-avro';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { AvroSerde } from '@lib/kafka-avro/serde/avro.serde';

/**
 * PublishedTrades on the in-process transport's broker (embedded mode). Its appends are atomic, so
 * everything in the log is committed; its durable journal is what survives a restart of the process.
 */
export class InProcessPublishedTrades extends PublishedTrades {
  constructor(
    private readonly broker: InMemoryBroker,
    private readonly serde: AvroSerde,
    private readonly topic: TopicSpec<DeribitTrade>,
  ) {
    super();
  }

  async tail(perPartition: number): Promise<DeribitTrade[]> {
    const out: DeribitTrade[] = [];
    const { name, schemaName } = this.topic;
    for (let partition = 0; partition < this.broker.partitionCount(name); partition++) {
      const { low, high } = this.broker.bounds(name, partition);
      const from = Math.max(low, high - perPartition);
      for (const message of this.broker.read(name, partition, from, high - from)) {
        if (message.value === null) continue;
        const value = await this.serde.decode<Record<string, unknown>>(name, schemaName, message.value);
        const trade: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) if (v !== null) trade[k] = v;
        out.push(trade as unknown as DeribitTrade);
      }
    }
    return out;
  }
}
