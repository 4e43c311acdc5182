import { SchemaCatalog, SchemaEntry } from '../schemas/schema.catalog';
import { AvroSerde, DecodeError, describeInvalid, EncodeError } from './avro.serde';

/** Avro single-object encoding: `C3 01`, the writer schema's 8-byte fingerprint, the Avro body. */
export const SINGLE_OBJECT_MARKER = Buffer.from([0xc3, 0x01]);
const HEADER_LENGTH = 10;

/** Values are encoded into this buffer first, then copied out at their exact size. */
const SCRATCH_SIZE = 64 * 1024;

/**
 * The default wire format. Needs no server: the writer's schema is found by fingerprint in the
 * {@link SchemaCatalog}, and data is resolved into the reader's current version, so a reader with
 * a newer schema reads old messages and an old reader reads new ones, provided the catalog knows
 * the writer's version (deploy readers first).
 */
export class SingleObjectSerde extends AvroSerde {
  private scratch = Buffer.allocUnsafe(SCRATCH_SIZE);

  constructor(readonly catalog: SchemaCatalog) {
    super();
  }

  override encode(_topic: string, schemaName: string, value: unknown): Buffer {
    return this.encodeWith(this.catalog.current(schemaName), value);
  }

  encodeWith(writer: SchemaEntry, value: unknown): Buffer {
    // avsc does not validate while writing (a string in an int field would be written as garbage).
    if (!writer.type.isValid(value)) {
      throw new EncodeError(`value does not fit Avro schema ${writer.name}: ${describeInvalid(writer.type, value)}`);
    }
    const end = writer.type.encode(value, this.scratch, HEADER_LENGTH);
    if (end < 0) {
      // Did not fit: -end more bytes are needed. Grow for next time and encode directly.
      this.scratch = Buffer.allocUnsafe(Math.max(this.scratch.length * 2, HEADER_LENGTH - end + this.scratch.length));
      return this.encodeWith(writer, value);
    }
    const out = Buffer.allocUnsafe(end);
    SINGLE_OBJECT_MARKER.copy(out, 0);
    writer.fingerprintBytes.copy(out, 2);
    this.scratch.copy(out, HEADER_LENGTH, HEADER_LENGTH, end);
    return out;
  }

  override decode<T>(_topic: string, schemaName: string, data: Buffer): T {
    if (data.length < 2 || data[0] !== 0xc3 || data[1] !== 0x01) {
      throw new DecodeError(
        `not Avro single-object encoding (starts with ${data.subarray(0, 2).toString('hex') || 'nothing'})`,
      );
    }
    if (data.length < HEADER_LENGTH) throw new DecodeError(`single-object header cut short (${data.length} bytes)`);
    const fingerprint = data.readBigUInt64LE(2);
    const writer = this.catalog.find(fingerprint);
    if (writer === undefined) {
      throw new DecodeError(`unknown writer schema fingerprint ${fingerprint.toString(16)} (reading ${schemaName})`);
    }
    return readBody<T>(this.catalog, schemaName, writer, fingerprint.toString(16), data.subarray(HEADER_LENGTH));
  }
}

/** Reads an Avro body written with `writer` into the current version of `readerName`. */
export function readBody<T>(
  catalog: SchemaCatalog,
  readerName: string,
  writer: Pick<SchemaEntry, 'type' | 'name'>,
  writerKey: string,
  body: Buffer,
): T {
  try {
    const resolver = catalog.resolver(readerName, writer.type, writerKey);
    const reader = catalog.current(readerName).type;
    return (resolver === undefined ? reader.fromBuffer(body) : reader.fromBuffer(body, resolver)) as T;
  } catch (err) {
    throw new DecodeError(`cannot read ${writer.name ?? 'data'} as ${readerName}: ${(err as Error).message}`, err);
  }
}
