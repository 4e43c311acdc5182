import { decodeRecords, encodeRecord, LogRecord } from './log-record.codec';

const record = (offset: number, over: Partial<LogRecord> = {}): LogRecord => ({
  offset,
  timestamp: 1_795_183_200_596,
  group: 2 ** 40 + offset,
  txn: 3,
  txnSize: 2,
  key: `k${offset}`,
  value: Buffer.from(`value ${offset} ✓`),
  headers: { traceparent: '00-abc-def-01', 'x-ü': 'ß' },
  ...over,
});

describe('log record codec', () => {
  it('reads back what it wrote, nulls and large offsets included', () => {
    const records = [record(0), record(2 ** 50, { key: null, value: null, headers: {} }), record(7, { key: '' })];
    const { records: read, validBytes } = decodeRecords(Buffer.concat(records.map(encodeRecord)));
    expect(read.map((r) => r.record)).toEqual(records);
    expect(validBytes).toBe(Buffer.concat(records.map(encodeRecord)).length);
    expect(read[1].position).toBe(encodeRecord(records[0]).length);
  });

  it('stops at a torn last record: every prefix of it is cut off', () => {
    const whole = encodeRecord(record(1));
    const last = encodeRecord(record(2));
    for (let cut = 0; cut < last.length; cut++) {
      const { records, validBytes } = decodeRecords(Buffer.concat([whole, last.subarray(0, cut)]));
      expect(records.map((r) => r.record.offset)).toEqual([1]);
      expect(validBytes).toBe(whole.length);
    }
  });

  it('stops at a record whose bytes changed (checksum)', () => {
    const data = Buffer.concat([encodeRecord(record(1)), encodeRecord(record(2)), encodeRecord(record(3))]);
    const second = encodeRecord(record(1)).length;
    data[second + 20] ^= 0x40;
    expect(decodeRecords(data).records.map((r) => r.record.offset)).toEqual([1]);
  });

  it('rejects a length field beyond the data without reading past it', () => {
    const data = Buffer.alloc(16);
    data.writeUInt32LE(0x7fffffff, 0);
    expect(decodeRecords(data)).toEqual({ records: [], validBytes: 0 });
  });
});
