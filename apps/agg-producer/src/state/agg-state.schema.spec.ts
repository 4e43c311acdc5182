import { TradeWindowRules } from '@lib/domain';
import { AvroRecordSchema, SchemaCatalog, SingleObjectSerde } from '@lib/kafka-avro';
import { AggStateRecord, instrumentRecord, instrumentWindowsOf, partitionRecord } from './agg-state.record';
import { AGG_STATE_SCHEMA, aggStateSchemaV1 } from './agg-state.schema';

const serde = new SingleObjectSerde(new SchemaCatalog([aggStateSchemaV1 as unknown as AvroRecordSchema]));
const roundTrip = async (record: AggStateRecord): Promise<AggStateRecord> => {
  const bytes = await serde.encode('state', AGG_STATE_SCHEMA, record);
  return JSON.parse(JSON.stringify(await serde.decode<AggStateRecord>('state', AGG_STATE_SCHEMA, bytes)));
};

describe('agg-producer changelog record (Avro)', () => {
  it('carries an instrument state through Avro unchanged, and back into the same windows', async () => {
    const rules = new TradeWindowRules({
      windowMs: 60_000,
      graceMs: 5_000,
      ewma: { mode: 'halflife', halfLifeMs: 1_000 },
    });
    const t0 = Date.parse('2026-03-01T10:00:00Z');
    const state = rules.begin('BTC-PERPETUAL', { timestamp: t0 + 59_000, price: 64_000.5, amount: 10 });
    rules.add(state, { timestamp: t0 + 59_000, price: 64_000.5, amount: 10 }, []);
    rules.add(state, { timestamp: t0 + 61_000, price: 64_010.25, amount: 20 }, []);
    expect(state.open).toHaveLength(2);

    const record = instrumentRecord(2, state);
    expect(await roundTrip(record)).toEqual(record);
    expect(instrumentWindowsOf((await roundTrip(record)).instrument!)).toEqual(state);
  });

  it('carries a partition position through Avro unchanged', async () => {
    const record = partitionRecord({
      topic: 'deribit-trades',
      partition: 3,
      next_offset: '9007199254740993',
      event_time: 1,
    });
    expect(await roundTrip(record)).toEqual(record);
  });
});
