import { DeribitTrade } from '@lib/domain';
import { deribitTradesTopic, TopicReader, TopicReadOptions, TopicSpec } from '@lib/kafka-avro';
import { sampleTrade } from '@lib/kafka-avro/testing/sample-values';
import { TopicPublishedTrades } from './topic-published-trades';

const topic = deribitTradesTopic('deribit-trades');

const trade = (instrument: string, seq: number): DeribitTrade =>
  sampleTrade(seq, { instrument_name: instrument, trade_id: `${instrument}-${seq}` });

/** Answers with what it was given, as Avro decodes it (absent optional fields as null), and records the asks. */
class RecordingReader extends TopicReader {
  readonly asks: { topic: string; opts: TopicReadOptions }[] = [];
  constructor(private readonly decoded: Record<string, unknown>[]) {
    super();
  }
  async ensureTopic(): Promise<void> {}
  async readToEnd<T>(spec: TopicSpec<T>, opts: TopicReadOptions): Promise<T[]> {
    this.asks.push({ topic: spec.name, opts });
    return this.decoded as T[];
  }
}

describe('TopicPublishedTrades', () => {
  it('asks the reader for the last n offsets of each partition within its time bound', async () => {
    const reader = new RecordingReader([]);
    expect(await new TopicPublishedTrades(reader, topic, 1_234).tail(7)).toEqual([]);
    expect(reader.asks).toEqual([{ topic: 'deribit-trades', opts: { lastPerPartition: 7, timeoutMs: 1_234 } }]);
  });

  it('gives the trades back as DeribitTrade, optional fields Avro decoded as null left out', async () => {
    const withNulls = { ...trade('A', 1), liquidation: null, block_trade_id: null, iv: null };
    const reader = new RecordingReader([withNulls, { ...trade('B', 2), iv: 55.5 }]);
    expect(await new TopicPublishedTrades(reader, topic, 1_000).tail(5)).toEqual([
      trade('A', 1),
      { ...trade('B', 2), iv: 55.5 },
    ]);
  });

  it('rejects when the read does', async () => {
    const failing = new (class extends RecordingReader {
      override async readToEnd<T>(): Promise<T[]> {
        throw new Error('reading deribit-trades to its end took more than 1000 ms');
      }
    })([]);
    await expect(new TopicPublishedTrades(failing, topic, 1_000).tail(5)).rejects.toThrow('took more than');
  });
});
