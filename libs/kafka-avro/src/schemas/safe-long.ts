import { types } from 'avsc';

const TWO_32 = 2 ** 32;

/**
 * Avro `long` as a JavaScript number over the whole safe-integer range. avsc's own long stops one
 * short of ±(2^53 - 1), which the domain accepts for a product id, so longs are converted through
 * their two 32-bit halves instead; anything beyond the safe range is refused, never rounded.
 */
export const safeLongType = (
  types.LongType as unknown as { __with(methods: Record<string, (...args: never[]) => unknown>): types.LongType }
).__with({
  fromBuffer: (buf: Buffer): number => {
    const n = buf.readInt32LE(4) * TWO_32 + buf.readUInt32LE(0);
    if (!Number.isSafeInteger(n)) throw new Error(`long beyond JavaScript's safe integers (|n| > 2^53 - 1)`);
    return n;
  },
  toBuffer: (n: number): Buffer => {
    const buf = Buffer.allocUnsafe(8);
    const high = Math.floor(n / TWO_32);
    buf.writeInt32LE(high, 4);
    buf.writeUInt32LE(n - high * TWO_32, 0);
    return buf;
  },
  fromJSON: (n: number): number => n,
  toJSON: (n: number): number => n,
  isValid: (n: number): boolean => Number.isSafeInteger(n),
  compare: (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0),
});
