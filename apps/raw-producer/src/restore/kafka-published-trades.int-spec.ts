/**
 * KafkaPublishedTrades against the real broker of the integration run: the tail of each partition, in
 * offset order, committed records only (an aborted transaction's trades are not read back).
 */
import { DeribitTrade } from '@lib/domain';
import { deribitTradesTopic } from '@lib/kafka-avro';
import { defaultSchemaCatalog } from '@lib/kafka-avro/schemas/schema.catalog';
import { SingleObjectSerde } from '@lib/kafka-avro/serde/single-object.serde';
import { Kafka, logLevel, Partitioners, Producer, Transaction } from 'kafkajs';
import { testKafkaBrokers, uniqueName } from '../../../../test/support/test-env';
import { KafkaPublishedTrades } from './kafka-published-trades';

jest.setTimeout(60_000);

const serde = new SingleObjectSerde(defaultSchemaCatalog());

function trade(instrument: string, seq: number): DeribitTrade {
  return {
    trade_seq: seq,
    trade_id: `${instrument}-${seq}`,
    timestamp: 1_700_000_000_000 + seq,
    tick_direction: 1,
    price: 100 + seq,
    mark_price: 100,
    index_price: 100,
    instrument_name: instrument,
    direction: seq % 2 === 0 ? 'buy' : 'sell',
    amount: 10,
  };
}

describe('KafkaPublishedTrades (real broker)', () => {
  const kafka = new Kafka({
    clientId: 'published-trades-test',
    brokers: testKafkaBrokers(),
    logLevel: logLevel.NOTHING,
  });
  const reader = (topic: string) =>
    new KafkaPublishedTrades(kafka, serde, deribitTradesTopic(topic), {
      consumerConfig: (groupId) => ({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 }),
      groupPrefix: uniqueName('restore-test'),
      timeoutMs: 30_000,
    });

  async function createTopic(topic: string, partitions: number): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
    // A fresh topic's offsets can be unknown for a moment after its leaders are elected.
    for (let i = 0; ; i++) {
      const ok = await admin.fetchTopicOffsets(topic).then(
        () => true,
        () => false,
      );
      if (ok || i === 50) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await admin.disconnect();
  }

  async function send(producer: Producer | Transaction, topic: string, trades: DeribitTrade[]): Promise<void> {
    const messages = [];
    for (const t of trades) {
      messages.push({ key: t.instrument_name, value: await serde.encode(topic, 'market.DeribitTrade', t) });
    }
    await producer.send({ topic, acks: -1, messages });
  }

  it('reads nothing from a topic that does not exist or is empty', async () => {
    expect(await reader(uniqueName('missing')).tail(10)).toEqual([]);
    const empty = uniqueName('empty');
    await createTopic(empty, 2);
    expect(await reader(empty).tail(10)).toEqual([]);
  });

  it('reads the last N committed trades of every partition, in order within each', async () => {
    const topic = uniqueName('tail');
    await createTopic(topic, 3);
    const instruments = ['BTC-PERPETUAL', 'ETH-PERPETUAL', 'SOL_USDC-PERPETUAL', 'XRP_USDC-PERPETUAL'];
    const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const written: DeribitTrade[] = [];
    for (let seq = 1; seq <= 40; seq++) written.push(...instruments.map((i) => trade(i, seq)));
    await send(producer, topic, written);
    await producer.disconnect();

    const inOrderToTheEnd = (tail: DeribitTrade[]) => {
      for (const i of instruments) {
        const seqs = tail.filter((t) => t.instrument_name === i).map((t) => t.trade_seq);
        expect(seqs.length).toBeGreaterThan(0);
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => 41 - seqs.length + k));
      }
    };
    const before = await reader(topic).tail(25);
    inOrderToTheEnd(before);
    // 160 trades over 3 partitions: exactly 25 read back from each partition that holds any.
    const partitionsUsed = new Set(instruments.map((i) => before.find((t) => t.instrument_name === i)!.trade_seq));
    expect(before.length % 25).toBe(0);
    expect(before.length / 25).toBeGreaterThanOrEqual(partitionsUsed.size > 0 ? 1 : 0);
    expect(before.length).toBeLessThanOrEqual(75);
    expect(before.every((t) => JSON.stringify(t) === JSON.stringify(trade(t.instrument_name, t.trade_seq)))).toBe(true);

    // An aborted transaction at the end of the topic: never read back (its records and markers still
    // take offsets of the tail, so fewer trades come back).
    const tx = kafka.producer({ transactionalId: uniqueName('tx'), idempotent: true, maxInFlightRequests: 1 });
    await tx.connect();
    const open = await tx.transaction();
    await send(
      open,
      topic,
      instruments.map((i) => trade(i, 999)),
    );
    await open.abort();
    await tx.disconnect();
    // The abort markers are written after abort() returns; until then the partitions' stable end is before them.
    const admin = kafka.admin();
    await admin.connect();
    const total = async () => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
    for (let i = 0; i < 100 && (await total()) < written.length + instruments.length + 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await admin.disconnect();
    const after = await reader(topic).tail(25);
    expect(after.some((t) => t.trade_seq === 999)).toBe(false);
    inOrderToTheEnd(after);
    expect(after.length).toBeLessThan(before.length);
  });
});
