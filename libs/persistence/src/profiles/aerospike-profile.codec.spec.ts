import {
  assertTagSize,
  canonicalTagJson,
  MAX_TAG_JSON_BYTES,
  PROFILE_CAPACITY,
  UserTag,
  userTagEventTime,
} from '@lib/domain';
import { maps } from 'aerospike';
import {
  appendOperations,
  decodeRange,
  decodeTag,
  encodeTag,
  entriesOf,
  keyRange,
  mapKey,
  readOperations,
  timeKey,
  timeOfMapKey,
  ENTRY_OVERHEAD_BYTES,
  maxEntryBytes,
  RECORD_LIMIT_BYTES,
  RECORD_OVERHEAD_BYTES,
} from './aerospike-profile.codec';
import { tagDigestHex } from './tag-identity';

function tag(overrides: Partial<UserTag> = {}, productId: string | number = 42): UserTag {
  return {
    time: '2022-03-22T12:15:00.000Z',
    cookie: 'cookie-1',
    country: 'PL',
    device: 'MOBILE',
    action: 'VIEW',
    origin: 'o1',
    product_info: { product_id: productId, brand_id: 'b1', category_id: 'k1', price: -2_147_483_648 },
    ...overrides,
  };
}

function keyOf(t: UserTag): string {
  return mapKey(userTagEventTime(t), tagDigestHex(canonicalTagJson(t)));
}

describe('Aerospike profile keys', () => {
  it('are fixed width, so text order is time order, also across 1970 and four-digit years', () => {
    const times = [
      -62_167_219_200_000,
      Date.parse('1969-12-31T23:59:59.999Z'),
      0,
      Date.parse('2022-03-22T12:15:00.001Z'),
      Date.parse('9999-12-31T23:59:59.999Z'),
    ];
    const keys = times.map((ms) => mapKey(ms, 'ffffffffffffffff'));
    expect(keys.map((k) => k.length)).toEqual(keys.map(() => 15 + 1 + 16));
    expect([...keys].sort()).toEqual(keys);
    expect(timeKey(-62_167_219_200_000)).toBe('000000000000000');
  });

  it('decode back to their time', () => {
    for (const ms of [-62_167_219_200_000, -1, 0, 1_647_951_300_000, 253_402_300_799_999]) {
      expect(timeOfMapKey(mapKey(ms, '0123456789abcdef'))).toBe(ms);
    }
  });

  it('refuse times outside years 0000-9999', () => {
    expect(() => timeKey(-62_167_219_200_001)).toThrow(RangeError);
    expect(() => timeKey(253_402_300_800_001)).toThrow(RangeError);
    expect(() => timeKey(1.5)).toThrow(RangeError);
  });

  it('give a range [from, to) holding exactly the keys of times from <= t < to', () => {
    const from = Date.parse('2022-03-22T12:15:00.000Z');
    const { begin, end } = keyRange({ fromMs: from, toMs: from + 1 });
    const inside = mapKey(from, '0000000000000000');
    const insideToo = mapKey(from, 'ffffffffffffffff');
    const before = mapKey(from - 1, 'ffffffffffffffff');
    const after = mapKey(from + 1, '0000000000000000');
    const within = (k: string): boolean => begin <= k && k < end;
    expect([inside, insideToo, before, after].map(within)).toEqual([true, true, false, false]);
  });

  it('give the same tag the same key and two tags of one millisecond two keys', () => {
    expect(keyOf(tag())).toBe(keyOf({ ...tag() }));
    expect(keyOf(tag({ country: 'DE' }))).not.toBe(keyOf(tag()));
    expect(keyOf(tag({ country: 'DE' })).slice(0, 15)).toBe(keyOf(tag()).slice(0, 15));
  });
});

describe('Aerospike profile values', () => {
  it.each([
    ['integer product_id, canonical time', tag()],
    ['string product_id', tag({}, '42')],
    ['time without milliseconds', tag({ time: '2022-03-22T12:15:00Z' })],
    ['odd unicode and quotes', tag({ cookie: 'ż\u0000"; DROP TABLE profile_tag; --🍪', origin: "o'1\ud800" })],
    ['BUY on a TV', tag({ action: 'BUY', device: 'TV' })],
  ])('round-trip exactly: %s', (_what, t) => {
    const ms = userTagEventTime(t);
    const key = mapKey(ms, tagDigestHex(canonicalTagJson(t)));
    const decoded = decodeTag(t.cookie, t.action, key, encodeTag(t, ms));
    expect(decoded).toEqual(t);
    expect(typeof decoded.product_info.product_id).toBe(typeof t.product_info.product_id);
    expect(canonicalTagJson(decoded)).toBe(canonicalTagJson(t));
  });

  it('leave out a canonical time text and keep any other spelling', () => {
    expect(encodeTag(tag(), userTagEventTime(tag()))).toBe('["","PL",1,"o1",42,"b1","k1",-2147483648]');
    const noMillis = tag({ time: '2022-03-22T12:15:00Z' });
    expect(JSON.parse(encodeTag(noMillis, userTagEventTime(noMillis)))[0]).toBe('2022-03-22T12:15:00Z');
  });

  it('reject a malformed entry', () => {
    expect(() => decodeTag('c', 'VIEW', mapKey(0, '0000000000000000'), '["x"]')).toThrow(/malformed/);
    expect(() => decodeTag('c', 'VIEW', mapKey(0, '0000000000000000'), '[')).toThrow(/malformed/);
    expect(() => decodeTag('c', 'VIEW', mapKey(0, '0000000000000000'), ['', 'PL', 0, 'o', 1, 'b', 'k', 1])).toThrow(
      /malformed/,
    );
    expect(() => decodeTag('c', 'VIEW', mapKey(0, '0000000000000000'), '["","PL",9,"o",1,"b","k",1]')).toThrow(
      /device/,
    );
  });
});

describe('Aerospike profile operations', () => {
  it('append: per action, put the entries into a key-ordered map, then keep the newest `capacity`', () => {
    const tags = [tag(), tag({ action: 'BUY' }), tag({ time: '2022-03-22T12:15:01.000Z' }), tag()];
    const ops = appendOperations(entriesOf(tags), 200) as unknown as Array<Record<string, unknown>>;
    expect(ops).toHaveLength(4);
    const [putViews, trimViews, putBuys, trimBuys] = ops;
    expect(putViews).toMatchObject({
      op: maps.putItems('x', {}).op,
      bin: 'views',
      policy: { order: maps.order.KEY_ORDERED },
    });
    expect([...(putViews.items as Map<string, unknown>).keys()]).toEqual([keyOf(tags[0]), keyOf(tags[2])]);
    expect(trimViews).toMatchObject({
      op: maps.removeByIndexRange('x', 0).op,
      bin: 'views',
      index: -200,
      count: null,
      returnType: maps.returnType.INVERTED,
    });
    expect(putBuys).toMatchObject({ bin: 'buys' });
    expect([...(putBuys.items as Map<string, unknown>).keys()]).toEqual([keyOf(tags[1])]);
    expect(trimBuys).toMatchObject({ bin: 'buys', index: -200, returnType: maps.returnType.INVERTED });
  });

  it('read: a key range per action, keys and values', () => {
    const range = { fromMs: Date.parse('2022-03-22T12:00:00Z'), toMs: Date.parse('2022-03-22T13:00:00Z') };
    const ops = readOperations(range) as unknown as Array<Record<string, unknown>>;
    const { begin, end } = keyRange(range);
    expect(ops).toEqual([
      expect.objectContaining({ bin: 'views', begin, end, returnType: maps.returnType.KEY_VALUE }),
      expect.objectContaining({ bin: 'buys', begin, end, returnType: maps.returnType.KEY_VALUE }),
    ]);
  });

  it('decodes a range result newest first, then limits', () => {
    const tags = ['00.000', '01.000', '02.000', '02.000'].map((s, i) =>
      tag({ time: `2022-03-22T12:15:${s}Z`, country: `C${i}` }),
    );
    const entries = entriesOf(tags).get('VIEW') as Map<string, unknown>;
    const ascending = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).flat();
    const newest = decodeRange('cookie-1', 'VIEW', ascending, 3);
    expect(newest.map((t) => t.time)).toEqual([
      '2022-03-22T12:15:02.000Z',
      '2022-03-22T12:15:02.000Z',
      '2022-03-22T12:15:01.000Z',
    ]);
    expect(new Set(newest.slice(0, 2).map((t) => t.country))).toEqual(new Set(['C2', 'C3']));
    expect(decodeRange('cookie-1', 'VIEW', null, 3)).toEqual([]);
  });

  describe('record size (issue 15)', () => {
    /** Key plus value bytes of the tag's one entry. */
    const entryBytes = (t: UserTag): number => {
      const [[key, value]] = [...(entriesOf([t]).get(t.action) as Map<string, string>)];
      return Buffer.byteLength(key) + Buffer.byteLength(value);
    };

    /**
     * The admissible tag with the largest entry: a one-character cookie (not stored in the entry), a
     * non-canonical time (stored verbatim), and control characters (6 bytes each in the entry's JSON)
     * added to the stored fields one at a time while the tag still meets MAX_TAG_JSON_BYTES.
     */
    function largestAdmissible(): UserTag {
      const t = tag({ cookie: 'c', time: '2022-03-22T12:15:00.123456789Z', country: '', origin: '' }, '');
      t.product_info = { ...t.product_info, brand_id: '', category_id: '' };
      const grow = [
        (x: UserTag) => (x.country += '\u0001'),
        (x: UserTag) => (x.origin += '\u0001'),
        (x: UserTag) => (x.product_info.product_id += '\u0001'),
        (x: UserTag) => (x.product_info.brand_id += '\u0001'),
        (x: UserTag) => (x.product_info.category_id += '\u0001'),
      ];
      for (let i = 0; ; i++) {
        const next: UserTag = structuredClone(t);
        grow[i % grow.length](next);
        if (Buffer.byteLength(canonicalTagJson(next)) > MAX_TAG_JSON_BYTES) return t;
        Object.assign(t, next);
      }
    }

    it('every tag that meets the rules of ingest fits the entry bound, so a full record fits the limit', () => {
      const largest = largestAdmissible();
      expect(() => assertTagSize(largest)).not.toThrow();
      const bytes = entryBytes(largest);
      expect(bytes).toBeGreaterThan(2_000);
      expect(bytes).toBeLessThanOrEqual(maxEntryBytes(PROFILE_CAPACITY));
      // Both actions full of such entries, with every overhead counted.
      const record = 2 * PROFILE_CAPACITY * (bytes + ENTRY_OVERHEAD_BYTES) + RECORD_OVERHEAD_BYTES;
      expect(record).toBeLessThanOrEqual(RECORD_LIMIT_BYTES);
    });

    it('leaves out and reports an entry over the bound (a tag that bypassed the rules), keeping the others', () => {
      const hostile = '\u0001'.repeat(256);
      const big = tag({ time: '2022-03-22T12:15:01.000Z', country: hostile, origin: hostile }, hostile);
      big.product_info = { ...big.product_info, brand_id: hostile, category_id: hostile };
      const small = tag();
      const left: string[] = [];
      const bound = maxEntryBytes(PROFILE_CAPACITY);
      const entries = entriesOf([big, small], bound, (e) => left.push(`${e.action} ${e.bytes > bound}`));
      expect(left).toEqual(['VIEW true']);
      expect([...(entries.get('VIEW') as Map<string, string>).keys()]).toEqual([keyOf(small)]);
    });
  });
});
