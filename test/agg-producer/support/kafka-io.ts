/**
 * Kafka input and output of agg-producer's integration tests, straight through kafkajs and the Avro
 * serde: trades written as raw-producer writes them (key = instrument), statistics read back with
 * read_committed up to the end of each partition.
 */
import { readFileSync } from 'node:fs';
import { DeribitTrade, TradeStats } from '@lib/domain';
import { TopicSpec, markerHeaders } from '@lib/kafka-avro/messaging';
import { InstrumentTradeGap, tradeGapMarker } from '@lib/kafka-avro/topics';
import { defaultSchemaCatalog } from '@lib/kafka-avro/schemas/schema.catalog';
import { SingleObjectSerde } from '@lib/kafka-avro/serde/single-object.serde';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { KafkaTopicReader } from '@lib/kafka-avro/kafka/kafka-topic.reader';
import { uniqueName } from '../../support/test-env';

export const serde = new SingleObjectSerde(defaultSchemaCatalog());

export function testKafka(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'agg-producer-test', brokers, logLevel: logLevel.NOTHING });
}

export async function createTopics(kafka: Kafka, names: readonly string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: names.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 })),
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Writes trades in order, keyed by instrument (Kafka's default partitioner, as every producer here), in
 * requests of `chunk` trades.
 */
export async function produceTrades(
  kafka: Kafka,
  topic: string,
  trades: readonly DeribitTrade[],
  chunk = 5_000,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    for (let i = 0; i < trades.length; i += chunk) {
      const messages = [];
      for (const t of trades.slice(i, i + chunk)) {
        messages.push({ key: t.instrument_name, value: await serde.encode(topic, 'market.DeribitTrade', t) });
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Writes gap markers as raw-producer does (no value, the marker's headers), each under its instrument. */
export async function produceGapMarkers(
  kafka: Kafka,
  topic: string,
  gaps: readonly InstrumentTradeGap[],
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    const messages = gaps.map((g) => {
      const marker = tradeGapMarker(g.instrument, g);
      return { key: marker.key, value: null, headers: markerHeaders(marker) };
    });
    await producer.send({ topic, acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}

/**
 * Waits until `groupId` has committed offsets of `topic` adding up to at least `count` messages (what
 * agg-producer's transactions committed), or rejects after `timeoutMs`.
 */
export async function waitForCommitted(
  kafka: Kafka,
  groupId: string,
  topic: string,
  count: number,
  timeoutMs = 60_000,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const committed = (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
      if (committed >= count) return committed;
      if (Date.now() > deadline) throw new Error(`${groupId} committed ${committed} of ${count} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Every committed statistics record of `topic`, from the beginning to its current end. */
export async function readStats(kafka: Kafka, topic: string): Promise<TradeStats[]> {
  const spec: TopicSpec<TradeStats> = { name: topic, schemaName: 'market.TradeStats', key: (s) => s.instrument };
  const reader = new KafkaTopicReader(kafka, serde, {
    consumerConfig: (groupId) => ({ groupId, readUncommitted: false, maxWaitTimeInMs: 100 }),
    groupPrefix: uniqueName('stats-reader'),
    partitions: 1,
    replicationFactor: 1,
  });
  // Plain objects: avsc decodes records into instances of generated classes.
  return (await reader.readToEnd(spec, { timeoutMs: 30_000 })).map((s) => ({
    ...s,
    ewma_params: { ...s.ewma_params },
  }));
}

/** The trades of a recording of Deribit notifications (one JSON-RPC frame per line), in order, each once. */
export function recordedTrades(file: string): DeribitTrade[] {
  const seen = new Set<string>();
  const trades: DeribitTrade[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const frame = JSON.parse(line) as { method?: string; params?: { data?: DeribitTrade[] } };
    if (frame.method !== 'subscription') continue;
    for (const t of frame.params?.data ?? []) {
      if (seen.has(t.trade_id)) continue;
      seen.add(t.trade_id);
      trades.push({
        trade_seq: t.trade_seq,
        trade_id: t.trade_id,
        timestamp: t.timestamp,
        tick_direction: t.tick_direction,
        price: t.price,
        mark_price: t.mark_price,
        index_price: t.index_price,
        instrument_name: t.instrument_name,
        direction: t.direction,
        amount: t.amount,
        contracts: t.contracts ?? null,
        iv: t.iv ?? null,
        liquidation: t.liquidation ?? null,
        block_trade_id: t.block_trade_id ?? null,
        block_trade_leg_count: t.block_trade_leg_count ?? null,
        combo_id: t.combo_id ?? null,
        combo_trade_id: t.combo_trade_id ?? null,
      });
    }
  }
  return trades;
}
