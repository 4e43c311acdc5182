import { DeribitTrade } from '@lib/domain';
import { compileSchema, defaultSchemaCatalog, SCHEMAS, SchemaCatalog } from '../schemas/schema.catalog';
import { userTagSchemaV1 } from '../schemas/user-tag.schema';
import { sampleOptionTrade, sampleTrade, sampleTradeStats, sampleUserTag } from '../testing/sample-values';
import { DecodeError, EncodeError } from './avro.serde';
import { SingleObjectSerde } from './single-object.serde';

const serde = new SingleObjectSerde(defaultSchemaCatalog());
const roundTrip = <T>(schema: string, value: T): T => serde.decode<T>('t', schema, serde.encode('t', schema, value));

const ABSENT_OPTIONALS = {
  contracts: null,
  iv: null,
  liquidation: null,
  block_trade_id: null,
  block_trade_leg_count: null,
  combo_id: null,
  combo_trade_id: null,
} satisfies Partial<DeribitTrade>;

describe('SingleObjectSerde round trips', () => {
  it('keeps a user tag intact, product_id a string when sent as a string', () => {
    const tag = sampleUserTag(0, { time: '2022-03-22T12:15:00Z' });
    const back = roundTrip(SCHEMAS.userTag, tag);
    expect(back).toEqual(tag);
    expect(typeof back.product_info.product_id).toBe('string');
    expect(back.time).toBe('2022-03-22T12:15:00Z');
  });

  it('keeps product_id a number when sent as an integer, over the whole safe-integer range, and a numeric string a string', () => {
    for (const id of [7, 0, -3, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
      const back = roundTrip(
        SCHEMAS.userTag,
        sampleUserTag(1, { product_info: { ...sampleUserTag(1).product_info, product_id: id } }),
      );
      expect(back.product_info.product_id).toBe(id);
    }
    const numericString = sampleUserTag(1, { product_info: { ...sampleUserTag(1).product_info, product_id: '7' } });
    expect(roundTrip(SCHEMAS.userTag, numericString).product_info.product_id).toBe('7');
  });

  it('keeps the time text exactly, whatever its precision', () => {
    for (const time of ['2022-03-22T12:15:00.123456789Z', '2022-03-22T12:15:00.1Z']) {
      expect(roundTrip(SCHEMAS.userTag, sampleUserTag(2, { time })).time).toBe(time);
    }
  });

  it('keeps a perpetual trade intact; its absent optional fields come back as null', () => {
    const trade = sampleTrade(3);
    expect(roundTrip(SCHEMAS.deribitTrade, trade)).toEqual({ ...trade, ...ABSENT_OPTIONALS });
  });

  it('keeps an option block trade with every optional field intact', () => {
    const trade = sampleOptionTrade();
    expect(roundTrip(SCHEMAS.deribitTrade, trade)).toEqual(trade);
  });

  it('keeps trade statistics intact, with values and with an empty window', () => {
    const stats = sampleTradeStats();
    expect(roundTrip(SCHEMAS.tradeStats, stats)).toEqual(stats);
    const empty = sampleTradeStats({
      count: 0,
      volume: 0,
      vwap: null,
      open: null,
      high: null,
      low: null,
      close: null,
      ewma: null,
    });
    expect(roundTrip(SCHEMAS.tradeStats, empty)).toEqual(empty);
    const halflife = sampleTradeStats({
      ewma_params: { mode: 'halflife', alpha: null, span: null, half_life_ms: 60_000 },
    });
    expect(roundTrip(SCHEMAS.tradeStats, halflife)).toEqual(halflife);
  });

  it('writes C3 01, the fingerprint little-endian, then the plain Avro body', () => {
    const entry = defaultSchemaCatalog().current(SCHEMAS.userTag);
    const tag = sampleUserTag(4);
    const bytes = serde.encode('t', SCHEMAS.userTag, tag);
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0xc3, 0x01]));
    expect(bytes.readBigUInt64LE(2)).toBe(entry.fingerprint);
    expect(entry.type.fromBuffer(bytes.subarray(10))).toEqual(tag);
  });

  it('encodes values larger than its scratch buffer', () => {
    const tag = sampleUserTag(5, { origin: 'o'.repeat(200_000) });
    expect(roundTrip(SCHEMAS.userTag, tag)).toEqual(tag);
  });
});

describe('SingleObjectSerde rejects', () => {
  it.each([
    [
      'a price beyond int32',
      sampleUserTag(0, { product_info: { ...sampleUserTag(0).product_info, price: 2 ** 31 } }),
      /product_info.price=2147483648/,
    ],
    ['an unknown device', { ...sampleUserTag(0), device: 'FRIDGE' }, /device="FRIDGE"/],
    [
      'a fractional product_id',
      sampleUserTag(0, { product_info: { ...sampleUserTag(0).product_info, product_id: 1.5 } }),
      /product_id=1.5/,
    ],
    ['a missing field', { ...sampleUserTag(0), cookie: undefined }, /cookie/],
  ])('%s with an EncodeError naming the field', (_what, value, message) => {
    expect(() => serde.encode('t', SCHEMAS.userTag, value)).toThrow(EncodeError);
    expect(() => serde.encode('t', SCHEMAS.userTag, value)).toThrow(message);
  });

  it.each([
    ['JSON', Buffer.from('{"cookie":"x"}'), /not Avro single-object encoding \(starts with 7b22\)/],
    ['an empty value', Buffer.alloc(0), /starts with nothing/],
    [
      'an unknown fingerprint',
      Buffer.from('c301' + '0102030405060708' + '00', 'hex'),
      /unknown writer schema fingerprint 807060504030201/,
    ],
    ['a cut header', Buffer.from('c30102', 'hex'), /single-object header cut short \(3 bytes\)/],
    [
      'a truncated body',
      serde.encode('t', SCHEMAS.userTag, sampleUserTag(0)).subarray(0, 20),
      /cannot read analytics.UserTag as analytics.UserTag/,
    ],
  ])('%s with a DecodeError', (_what, bytes, message) => {
    expect(() => serde.decode('t', SCHEMAS.userTag, bytes)).toThrow(DecodeError);
    expect(() => serde.decode('t', SCHEMAS.userTag, bytes)).toThrow(message);
  });

  it('a message of another record type with a DecodeError', () => {
    const trade = serde.encode('t', SCHEMAS.deribitTrade, sampleTrade());
    expect(() => serde.decode('t', SCHEMAS.userTag, trade)).toThrow(DecodeError);
  });
});

describe('schema evolution through the catalog', () => {
  // Version 2 adds a field with a default: the compatible change in both directions.
  const userTagSchemaV2 = {
    ...userTagSchemaV1,
    fields: [...userTagSchemaV1.fields, { name: 'referrer', type: 'string', default: 'unknown' } as const],
  };
  const oldApp = new SingleObjectSerde(new SchemaCatalog([userTagSchemaV1], [userTagSchemaV2]));
  const newApp = new SingleObjectSerde(new SchemaCatalog([compileSchema(userTagSchemaV2)], [userTagSchemaV1]));

  it('a reader with the newer schema reads old messages, filling the default', () => {
    const tag = sampleUserTag(6);
    const old = oldApp.encode('t', SCHEMAS.userTag, tag);
    expect(newApp.decode('t', SCHEMAS.userTag, old)).toEqual({ ...tag, referrer: 'unknown' });
  });

  it('an old reader reads new messages, ignoring the field it does not know', () => {
    const tag = sampleUserTag(7);
    const fresh = newApp.encode('t', SCHEMAS.userTag, { ...tag, referrer: 'newsletter' });
    expect(fresh.readBigUInt64LE(2)).not.toBe(oldApp.catalog.current(SCHEMAS.userTag).fingerprint);
    expect(oldApp.decode('t', SCHEMAS.userTag, fresh)).toEqual(tag);
  });

  it('a reader that was never told about the new version rejects its messages as poison', () => {
    const fresh = newApp.encode('t', SCHEMAS.userTag, { ...sampleUserTag(8), referrer: 'x' });
    expect(() => serde.decode('t', SCHEMAS.userTag, fresh)).toThrow(/unknown writer schema fingerprint/);
  });

  it('an incompatible change (a new field without default) cannot be read by the newer reader', () => {
    const breaking = {
      ...userTagSchemaV1,
      fields: [...userTagSchemaV1.fields, { name: 'mandatory', type: 'string' } as const],
    };
    const reader = new SingleObjectSerde(new SchemaCatalog([breaking], [userTagSchemaV1]));
    const old = serde.encode('t', SCHEMAS.userTag, sampleUserTag(9));
    expect(() => reader.decode('t', SCHEMAS.userTag, old)).toThrow(DecodeError);
  });
});
