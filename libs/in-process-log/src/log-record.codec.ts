import { crc32 } from 'node:zlib';

/**
 * One record of the durable in-process log, as stored in a segment file (and in the consumer offsets
 * file, where `offset` is the committed offset and `key` names the group, topic and partition).
 *
 * `group` and `txn`/`txnSize` say which write it belongs to: every `append` call is written by one
 * group commit (`group`, increasing), as its `txn`-th write, and consists of `txnSize` records across
 * all files. Recovery counts them, so a write torn by a crash (some files written, others not) is
 * dropped entirely rather than half applied.
 */
export interface LogRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly group: number;
  readonly txn: number;
  readonly txnSize: number;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
}

const FORMAT_VERSION = 1;
/** Length (u32) and CRC-32 (u32) of the body. */
const FRAME_HEADER_BYTES = 8;
const NULL_LENGTH = 0xffffffff;
/** Anything larger is a corrupt length field, not a record (the broker's messages are far smaller). */
const MAX_BODY_BYTES = 256 * 1024 * 1024;
const TWO_POW_32 = 2 ** 32;

function writeU64(buf: Buffer, at: number, n: number): number {
  buf.writeUInt32LE(n % TWO_POW_32, at);
  buf.writeUInt32LE(Math.floor(n / TWO_POW_32), at + 4);
  return at + 8;
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_POW_32;
}

/**
 * `[u32 body length][u32 CRC-32 of body][body]`, little-endian; body: version, offset, timestamp,
 * group, txn, txnSize, key, value, headers (strings UTF-8, each with a u32 length; null = 0xffffffff).
 */
export function encodeRecord(r: LogRecord): Buffer {
  const key = r.key === null ? null : Buffer.from(r.key, 'utf8');
  const headers = Object.entries(r.headers).map(([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')]);
  const bodyBytes =
    1 +
    8 * 3 +
    4 * 2 +
    4 +
    (key?.length ?? 0) +
    4 +
    (r.value?.length ?? 0) +
    4 +
    headers.reduce((n, [k, v]) => n + 8 + k.length + v.length, 0);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
  let at = FRAME_HEADER_BYTES;
  buf.writeUInt8(FORMAT_VERSION, at);
  at += 1;
  at = writeU64(buf, at, r.offset);
  at = writeU64(buf, at, r.timestamp);
  at = writeU64(buf, at, r.group);
  buf.writeUInt32LE(r.txn, at);
  buf.writeUInt32LE(r.txnSize, at + 4);
  at += 8;
  at = writeBytes(buf, at, key);
  at = writeBytes(buf, at, r.value);
  buf.writeUInt32LE(headers.length, at);
  at += 4;
  for (const [k, v] of headers) {
    at = writeBytes(buf, at, k);
    at = writeBytes(buf, at, v);
  }
  buf.writeUInt32LE(bodyBytes, 0);
  buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER_BYTES)), 4);
  return buf;
}

function writeBytes(buf: Buffer, at: number, bytes: Buffer | null): number {
  if (bytes === null) {
    buf.writeUInt32LE(NULL_LENGTH, at);
    return at + 4;
  }
  buf.writeUInt32LE(bytes.length, at);
  bytes.copy(buf, at + 4);
  return at + 4 + bytes.length;
}

/** A record read back, with where it starts in its file (to truncate there). */
export interface StoredRecord {
  readonly position: number;
  readonly record: LogRecord;
}

export interface DecodedFile {
  readonly records: StoredRecord[];
  /** Bytes of whole, intact records from the start; a torn or corrupt tail begins here. */
  readonly validBytes: number;
}

/**
 * Reads records from the start of `data` until its end or the first frame that is incomplete or fails
 * its checksum (a write torn by a crash). Values are copied out, so `data` can be released.
 */
export function decodeRecords(data: Buffer): DecodedFile {
  const records: StoredRecord[] = [];
  let at = 0;
  while (at + FRAME_HEADER_BYTES <= data.length) {
    const bodyBytes = data.readUInt32LE(at);
    if (bodyBytes > MAX_BODY_BYTES || at + FRAME_HEADER_BYTES + bodyBytes > data.length) break;
    const body = data.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + bodyBytes);
    if (crc32(body) !== data.readUInt32LE(at + 4)) break;
    const record = decodeBody(body);
    if (record === undefined) break;
    records.push({ position: at, record });
    at += FRAME_HEADER_BYTES + bodyBytes;
  }
  return { records, validBytes: at };
}

function decodeBody(body: Buffer): LogRecord | undefined {
  try {
    if (body.readUInt8(0) !== FORMAT_VERSION) return undefined;
    let at = 1;
    const offset = readU64(body, at);
    const timestamp = readU64(body, at + 8);
    const group = readU64(body, at + 16);
    at += 24;
    const txn = body.readUInt32LE(at);
    const txnSize = body.readUInt32LE(at + 4);
    at += 8;
    const [key, afterKey] = readBytes(body, at);
    const [value, afterValue] = readBytes(body, afterKey);
    at = afterValue;
    const headerCount = body.readUInt32LE(at);
    at += 4;
    const headers: Record<string, string> = {};
    for (let i = 0; i < headerCount; i++) {
      const [name, afterName] = readBytes(body, at);
      const [text, afterText] = readBytes(body, afterName);
      if (name === null || text === null) return undefined;
      headers[name.toString('utf8')] = text.toString('utf8');
      at = afterText;
    }
    if (at !== body.length) return undefined;
    return { offset, timestamp, group, txn, txnSize, key: key === null ? null : key.toString('utf8'), value, headers };
  } catch {
    // A length field pointing past the body: corrupt even though the checksum matched.
    return undefined;
  }
}

function readBytes(body: Buffer, at: number): [Buffer | null, number] {
  const length = body.readUInt32LE(at);
  if (length === NULL_LENGTH) return [null, at + 4];
  if (at + 4 + length > body.length) throw new RangeError('length beyond the record');
  return [Buffer.from(body.subarray(at + 4, at + 4 + length)), at + 4 + length];
}
