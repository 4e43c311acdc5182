import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Type } from 'avsc';
import { compileSchema, SchemaCatalog, SchemaEntry } from '../schemas/schema.catalog';
import { AvroSerde, DecodeError, describeInvalid, EncodeError } from './avro.serde';
import { readBody, SingleObjectSerde } from './single-object.serde';

/** What this serde needs from `@kafkajs/confluent-schema-registry`'s client (a stub in unit tests). */
export type SchemaRegistryClient = Pick<SchemaRegistry, 'register' | 'getSchema'>;

const CONFLUENT_MAGIC = 0;
const HEADER_LENGTH = 5;

/**
 * Confluent wire format, used when SCHEMA_REGISTRY_URL is set: magic byte 0, the writer schema's
 * 4-byte big-endian registry id, the Avro body. The current schema is registered under the topic's
 * `<topic>-value` subject on first use; a reader fetches an unknown id from the registry once and
 * resolves it into its current version. Single-object messages (from before the switch) still decode.
 */
export class ConfluentSerde extends AvroSerde {
  private readonly registered = new Map<string, Promise<number>>();
  private readonly writersById = new Map<number, Promise<Pick<SchemaEntry, 'type' | 'name'>>>();
  private readonly singleObject: SingleObjectSerde;

  constructor(
    private readonly registry: SchemaRegistryClient,
    readonly catalog: SchemaCatalog,
  ) {
    super();
    this.singleObject = new SingleObjectSerde(catalog);
  }

  override async encode(topic: string, schemaName: string, value: unknown): Promise<Buffer> {
    const writer = this.catalog.current(schemaName);
    if (!writer.type.isValid(value)) {
      throw new EncodeError(`value does not fit Avro schema ${writer.name}: ${describeInvalid(writer.type, value)}`);
    }
    const id = await this.registeredId(topic, writer);
    const body = writer.type.toBuffer(value);
    const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
    out.writeUInt8(CONFLUENT_MAGIC, 0);
    out.writeInt32BE(id, 1);
    body.copy(out, HEADER_LENGTH);
    return out;
  }

  override async decode<T>(topic: string, schemaName: string, data: Buffer): Promise<T> {
    if (data.length >= 2 && data[0] === 0xc3 && data[1] === 0x01)
      return this.singleObject.decode<T>(topic, schemaName, data);
    if (data.length < HEADER_LENGTH || data[0] !== CONFLUENT_MAGIC) {
      throw new DecodeError(
        `not Confluent Avro framing (starts with ${data.subarray(0, 1).toString('hex') || 'nothing'})`,
      );
    }
    const id = data.readInt32BE(1);
    const writer = await this.writer(id);
    return readBody<T>(this.catalog, schemaName, writer, `registry:${id}`, data.subarray(HEADER_LENGTH));
  }

  private registeredId(topic: string, writer: SchemaEntry): Promise<number> {
    const subject = `${topic}-value`;
    const key = `${subject}|${writer.fingerprint}`;
    let id = this.registered.get(key);
    if (id === undefined) {
      id = this.registry.register({ type: SchemaType.AVRO, schema: writer.canonical }, { subject }).then((r) => r.id);
      // A failed registration (registry down) is retried by the next encode, not cached.
      id.catch(() => this.registered.delete(key));
      this.registered.set(key, id);
    }
    return id;
  }

  private writer(id: number): Promise<Pick<SchemaEntry, 'type' | 'name'>> {
    let writer = this.writersById.get(id);
    if (writer === undefined) {
      writer = this.registry.getSchema(id).then(
        (schema) => {
          // Recompiled with our options (unwrapped unions), whatever the registry client used.
          const type = compileSchema((schema as unknown as Type).schema());
          return { type, name: type.name ?? `registry id ${id}` };
        },
        (err: unknown) => {
          // An id the registry does not have makes the message poison; any other failure (registry
          // unreachable) is transient and must not send good messages to the dead-letter topic.
          if ((err as { status?: number }).status === 404) {
            throw new DecodeError(`writer schema id ${id} is not in the schema registry`, err);
          }
          throw err;
        },
      );
      writer.catch(() => this.writersById.delete(id));
      this.writersById.set(id, writer);
    }
    return writer;
  }
}
