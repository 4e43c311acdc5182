import { DeribitTrade } from '@lib/domain';
import { deribitTradesTopic, InMemoryBroker } from '@lib/kafka-avro';
import { defaultSchemaCatalog } from '@lib/kafka-avro/schemas/schema.catalog';
import { SingleObjectSerde } from '@lib/kafka-avro/serde/single-object.serde';
import { InProcessPublishedTrades } from './in-process-published-trades';

const serde = new SingleObjectSerde(defaultSchemaCatalog());
const topic = deribitTradesTopic('deribit-trades');

function trade(instrument: string, seq: number): DeribitTrade {
  return {
    trade_seq: seq,
    trade_id: `${instrument}-${seq}`,
    timestamp: 1_700_000_000_000 + seq,
    tick_direction: 0,
    price: 100,
    mark_price: 100,
    index_price: 100,
    instrument_name: instrument,
    direction: 'buy',
    amount: 1,
  };
}

describe('InProcessPublishedTrades', () => {
  it('reads back the last N trades of each partition, in order, as published', async () => {
    const broker = new InMemoryBroker({ partitions: 2 });
    broker.createTopic(topic.name);
    const reader = new InProcessPublishedTrades(broker, serde, topic);
    expect(await reader.tail(5)).toEqual([]);

    const written: DeribitTrade[] = [];
    for (let seq = 1; seq <= 8; seq++) written.push(trade('A', seq), trade('B', seq), trade('C', seq));
    await broker.append(
      await Promise.all(
        written.map(async (t) => ({
          topic: topic.name,
          key: topic.key(t),
          value: await serde.encode(topic.name, topic.schemaName, t),
          headers: {},
        })),
      ),
    );

    const tail = await reader.tail(5);
    const perPartition = new Map<number, DeribitTrade[]>();
    for (const t of tail) {
      const p = broker.partitionOf(topic.name, t.instrument_name);
      perPartition.set(p, [...(perPartition.get(p) ?? []), t]);
    }
    for (const [p, trades] of perPartition) {
      const all = written.filter((t) => broker.partitionOf(topic.name, t.instrument_name) === p);
      expect(trades).toEqual(all.slice(-5));
    }
    expect(tail.length).toBe(5 * perPartition.size);
  });
});
