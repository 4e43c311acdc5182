import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Type } from 'avsc';
import { defaultSchemaCatalog, SCHEMAS } from '../schemas/schema.catalog';
import { userTagSchemaV1 } from '../schemas/user-tag.schema';
import { sampleTrade, sampleUserTag } from '../testing/sample-values';
import { DecodeError } from './avro.serde';
import { ConfluentSerde } from './confluent.serde';
import { SingleObjectSerde } from './single-object.serde';

/**
 * A real registry client that never reaches a server: `register` is stubbed and the schemas it would
 * fetch are put in its cache, so its own encode/decode check our framing byte for byte.
 */
function stubbedRegistry(id: number): { registry: SchemaRegistry; register: jest.SpyInstance } {
  const registry = new SchemaRegistry({ host: 'http://127.0.0.1:9', retry: { retries: 0 } });
  registry.cache.setSchema(id, SchemaType.AVRO, Type.forSchema(userTagSchemaV1 as never) as never);
  const register = jest.spyOn(registry, 'register').mockResolvedValue({ id });
  return { registry, register };
}

describe('ConfluentSerde', () => {
  it('writes magic byte 0, the registry id big-endian, then the Avro body, registering <topic>-value once', async () => {
    const { registry, register } = stubbedRegistry(0x01020304);
    const serde = new ConfluentSerde(registry, defaultSchemaCatalog());
    const tag = sampleUserTag(1);
    const bytes = await serde.encode('user-tags', SCHEMAS.userTag, tag);
    await serde.encode('user-tags', SCHEMAS.userTag, sampleUserTag(2));

    expect(bytes.subarray(0, 5)).toEqual(Buffer.from([0, 1, 2, 3, 4]));
    expect(defaultSchemaCatalog().current(SCHEMAS.userTag).type.fromBuffer(bytes.subarray(5))).toEqual(tag);
    expect(register).toHaveBeenCalledTimes(1);
    expect(register).toHaveBeenCalledWith(
      { type: SchemaType.AVRO, schema: defaultSchemaCatalog().current(SCHEMAS.userTag).canonical },
      { subject: 'user-tags-value' },
    );
    // The registry client's own decoder reads what we wrote.
    expect(await registry.decode(bytes)).toEqual(tag);
  });

  it('reads what the registry client writes, resolving the writer schema by id', async () => {
    const { registry } = stubbedRegistry(21);
    const serde = new ConfluentSerde(registry, defaultSchemaCatalog());
    const tag = sampleUserTag(3);
    const bytes = await registry.encode(21, tag);
    expect(bytes[0]).toBe(0);
    const back = await serde.decode<typeof tag>('user-tags', SCHEMAS.userTag, bytes);
    expect(back).toEqual(tag);
    expect(typeof back.product_info.product_id).toBe('number');
  });

  it('still reads single-object messages written before the registry was configured', async () => {
    const { registry } = stubbedRegistry(21);
    const catalog = defaultSchemaCatalog();
    const old = new SingleObjectSerde(catalog).encode('deribit-trades', SCHEMAS.deribitTrade, sampleTrade(1));
    const back = await new ConfluentSerde(registry, catalog).decode('deribit-trades', SCHEMAS.deribitTrade, old);
    expect(back).toMatchObject(sampleTrade(1));
  });

  it('treats an id the registry does not have as poison, and an unreachable registry as transient', async () => {
    const { registry } = stubbedRegistry(21);
    const missing = Object.assign(new Error('Schema 77 not found'), { status: 404 });
    jest.spyOn(registry, 'getSchema').mockImplementation(async (id) => {
      if (id === 77) throw missing;
      throw new Error('connect ECONNREFUSED');
    });
    const serde = new ConfluentSerde(registry, defaultSchemaCatalog());
    const framed = (id: number) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), Buffer.from([2, 0x41])]);

    await expect(serde.decode('t', SCHEMAS.userTag, framed(77))).rejects.toThrow(DecodeError);
    const transient = serde.decode('t', SCHEMAS.userTag, framed(78));
    await expect(transient).rejects.toThrow('ECONNREFUSED');
    await expect(transient).rejects.not.toBeInstanceOf(DecodeError);
  });

  it('does not cache a failed registration', async () => {
    const { registry, register } = stubbedRegistry(5);
    register.mockRejectedValueOnce(new Error('registry down'));
    const serde = new ConfluentSerde(registry, defaultSchemaCatalog());
    await expect(serde.encode('t', SCHEMAS.userTag, sampleUserTag())).rejects.toThrow('registry down');
    await expect(serde.encode('t', SCHEMAS.userTag, sampleUserTag())).resolves.toBeInstanceOf(Buffer);
    expect(register).toHaveBeenCalledTimes(2);
  });

  it('rejects data in neither format', async () => {
    const { registry } = stubbedRegistry(5);
    await expect(
      new ConfluentSerde(registry, defaultSchemaCatalog()).decode('t', SCHEMAS.userTag, Buffer.from('{}')),
    ).rejects.toThrow(/not Confluent Avro framing/);
  });
});
