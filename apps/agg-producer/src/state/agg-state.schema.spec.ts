import { SeenSequences, TradeWindowRules } from '@lib/domain';
import { AvroRecordSchema, SchemaCatalog, SingleObjectSerde } from '@lib/kafka-avro';
import {
  AggStateRecord,
  instrumentRecord,
  instrumentWindowsOf,
  partitionRecord,
  seenSequencesOf,
} from './agg-state.record';
import { AGG_STATE_SCHEMA, aggStateSchemaV1, aggStateSchemaV2, aggStateSchemaV3 } from './agg-state.schema';

const v1 = aggStateSchemaV1 as unknown as AvroRecordSchema;
const v2 = aggStateSchemaV2 as unknown as AvroRecordSchema;
const v3 = aggStateSchemaV3 as unknown as AvroRecordSchema;
// What agg-producer runs with: version 3 written, versions 1 and 2 read.
const serde = new SingleObjectSerde(new SchemaCatalog([v3], [v1, v2]));
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
      revisionWindows: 3,
    });
    const t0 = Date.parse('2026-03-01T10:00:00Z');
    const state = rules.begin('BTC-PERPETUAL', { timestamp: t0 - 61_000, price: 64_000, amount: 1 });
    rules.add(state, { timestamp: t0 - 61_000, price: 64_000, amount: 1 }, []);
    rules.closeUntil(state, t0, []); // two windows published (one empty), kept for revisions
    rules.add(state, { timestamp: t0 + 59_000, price: 64_000.5, amount: 10 }, []);
    rules.add(state, { timestamp: t0 + 61_000, price: 64_010.25, amount: 20 }, []);
    expect(state.open).toHaveLength(2);
    expect(state.closed.map((c) => c.window?.count ?? 0)).toEqual([1, 0]);
    // Unrecovered trades: in an open window, and in a published one (a revision).
    expect(rules.unrecovered(state, t0 + 61_000, 2, [])).toBe('open');
    expect(rules.unrecovered(state, t0 - 61_000, 5, [])).toBe('revised');
    expect(state.unrecovered).toEqual([{ start: t0 + 60_000, count: 2 }]);
    expect(state.closed.map((c) => c.unrecovered)).toEqual([5, 0]);

    const seen = new SeenSequences([10, 20, 25, 25]);
    const record = instrumentRecord(2, state, seen, t0 + 61_500);
    expect(await roundTrip(record)).toEqual(record);
    expect(record.instrument?.closed_windows).toHaveLength(2);
    expect(instrumentWindowsOf((await roundTrip(record)).instrument!)).toEqual(state);
    expect(seenSequencesOf((await roundTrip(record)).instrument!).toFlat()).toEqual([10, 20, 25, 25]);
  });

  it('reads a version-1 record (written before the dedupe): no sequences remembered, the rest intact', async () => {
    const old = new SingleObjectSerde(new SchemaCatalog([v1]));
    const record = instrumentRecord(
      1,
      new TradeWindowRules({ windowMs: 60_000, graceMs: 0, ewma: { mode: 'span', span: 5 } }).begin('ETH-PERPETUAL', {
        timestamp: 0,
        price: 1,
        amount: 1,
      }),
      new SeenSequences(),
      null,
    );
    const {
      seen_seqs: _dropped,
      source_time: _none,
      closed_windows: _kept,
      unrecovered: _lost,
      ...written
    } = record.instrument!;
    const bytes = await old.encode('state', AGG_STATE_SCHEMA, { ...record, instrument: written });
    const read = await serde.decode<AggStateRecord>('state', AGG_STATE_SCHEMA, bytes);
    expect(read.instrument).toEqual({
      ...written,
      seen_seqs: [],
      source_time: null,
      closed_windows: [],
      unrecovered: [],
    });
  });

  it('reads a version-2 record (before source watermarks and revisions): none of either, the sequences intact', async () => {
    const old = new SingleObjectSerde(new SchemaCatalog([v2], [v1]));
    const record = instrumentRecord(
      1,
      new TradeWindowRules({ windowMs: 60_000, graceMs: 0, ewma: { mode: 'span', span: 5 } }).begin('ETH-PERPETUAL', {
        timestamp: 0,
        price: 1,
        amount: 1,
      }),
      new SeenSequences([3, 9]),
      123,
    );
    const { source_time: _dropped, closed_windows: _kept, unrecovered: _lost, ...written } = record.instrument!;
    const bytes = await old.encode('state', AGG_STATE_SCHEMA, { ...record, instrument: written });
    const read = await serde.decode<AggStateRecord>('state', AGG_STATE_SCHEMA, bytes);
    expect(read.instrument).toEqual({
      ...written,
      seen_seqs: [3, 9],
      source_time: null,
      closed_windows: [],
      unrecovered: [],
    });
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
