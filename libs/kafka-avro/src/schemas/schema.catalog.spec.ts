import { Type } from 'avsc';
import { rabinFingerprint } from './rabin-fingerprint';
import { compileSchema, defaultSchemaCatalog, SCHEMAS, SchemaCatalog } from './schema.catalog';
import { userTagSchemaV1 } from './user-tag.schema';

/** Signed 64-bit fingerprints from Avro's own test vectors (share/test/data/schema-tests.txt). */
const VECTORS: [input: string, canonical: string, fingerprint: bigint][] = [
  ['"int"', '"int"', 8247732601305521295n],
  ['"string"', '"string"', -8142146995180207161n],
  [
    '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
    '{"name":"x.y.foo","type":"record","fields":[]}',
    5916914534497305771n,
  ],
  [
    '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":true},{"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo" }',
    '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
    -4860222112080293046n,
  ],
  [
    '{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}',
    '{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}',
    -4448647247586288245n,
  ],
];

describe('schema fingerprints', () => {
  it.each(VECTORS)('%s has the canonical form and CRC-64-AVRO of the Avro specification', (input, canonical, fp) => {
    expect(JSON.stringify(Type.forSchema(JSON.parse(input)).schema())).toBe(canonical);
    expect(rabinFingerprint(canonical)).toBe(BigInt.asUintN(64, fp));
  });

  it('drops docs and logical types from the canonical form of our schemas, and keeps full names', () => {
    const entry = defaultSchemaCatalog().current(SCHEMAS.deribitTrade);
    expect(entry.canonical).not.toMatch(/"doc"|"default"|logicalType/);
    expect(entry.canonical).toContain('"name":"market.TradeDirection"');
    expect(entry.fingerprintBytes.readBigUInt64LE(0)).toBe(entry.fingerprint);
  });
});

describe('SchemaCatalog', () => {
  it('refuses two current versions of one record', () => {
    const v2 = {
      ...userTagSchemaV1,
      fields: [...userTagSchemaV1.fields, { name: 'x', type: 'int', default: 0 } as const],
    };
    expect(() => new SchemaCatalog([userTagSchemaV1, v2])).toThrow(/two current versions of analytics.UserTag/);
  });

  it('names the known schemas when asked for an unknown one', () => {
    expect(() => defaultSchemaCatalog().current('nope.Nope')).toThrow(
      /analytics.UserTag, market.DeribitTrade, market.TradeStats/,
    );
  });

  it('finds every version by fingerprint, current or not', () => {
    const v2 = compileSchema({
      ...userTagSchemaV1,
      fields: [...userTagSchemaV1.fields, { name: 'x', type: 'int', default: 0 } as const],
    });
    const catalog = new SchemaCatalog([userTagSchemaV1], [v2]);
    const current = catalog.current(SCHEMAS.userTag);
    expect(catalog.find(current.fingerprint)).toBe(current);
    expect(catalog.find(rabinFingerprint(JSON.stringify(v2.schema())))?.type).toBe(v2);
    expect(catalog.find(123n)).toBeUndefined();
  });
});
