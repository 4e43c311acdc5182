/**
 * CRC-64-AVRO ("Rabin") fingerprint of a schema's Parsing Canonical Form, as the Avro specification
 * defines it for single-object encoding. Node's crypto has no such hash, and it is only computed
 * when a schema is registered, so BigInt arithmetic is fine here.
 */

const EMPTY = 0xc15d213aa4d7a795n;
const MASK = 0xffffffffffffffffn;

const TABLE: readonly bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i);
  for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n) & MASK);
  return fp;
});

/** The fingerprint as an unsigned 64-bit integer. */
export function rabinFingerprint(canonicalForm: string): bigint {
  let fp = EMPTY;
  for (const byte of Buffer.from(canonicalForm, 'utf8')) {
    fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(byte)) & 0xffn)];
  }
  return fp;
}

/** The 8 bytes single-object encoding puts after its `C3 01` marker: the fingerprint, little-endian. */
export function fingerprintBytes(canonicalForm: string): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(rabinFingerprint(canonicalForm));
  return bytes;
}
