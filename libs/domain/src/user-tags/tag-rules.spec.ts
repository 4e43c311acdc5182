import { DomainError } from '../errors';
import { assertTagSize, canonicalTagJson, checkUserTag, MAX_TAG_JSON_BYTES } from './tag-rules';
import { MAX_TEXT_LENGTH, UserTag } from './user-tag';

const base: UserTag = {
  time: '2022-03-22T12:15:00.000Z',
  cookie: 'c1',
  country: 'PL',
  device: 'PC',
  action: 'VIEW',
  origin: 'o1',
  product_info: { product_id: 42, brand_id: 'b1', category_id: 'k1', price: 100 },
};

/** Every text field `text`. */
function filled(text: string): UserTag {
  return {
    ...base,
    cookie: text,
    country: text,
    origin: text,
    product_info: { product_id: text, brand_id: text, category_id: text, price: -2_147_483_648 },
  };
}

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err instanceof DomainError ? `${err.code}${err.field ? ` ${err.field}` : ''}` : String(err);
  }
}

/** A deterministic generator, so a failing case can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe('tag size (TAG_TOO_LARGE)', () => {
  it.each([
    ['plain ASCII', 'x'],
    ['backslashes (2 bytes each in JSON)', '\\'],
    ['quotes (2 bytes each in JSON)', '"'],
    ['CJK (3 bytes each)', '漢'],
  ])('admits every field at the length limit in %s', (_what, char) => {
    const tag = filled(char.repeat(MAX_TEXT_LENGTH));
    expect(Buffer.byteLength(canonicalTagJson(tag))).toBeLessThan(MAX_TAG_JSON_BYTES);
    expect(codeOf(() => checkUserTag(tag))).toBeUndefined();
  });

  it('refuses 256 control characters per field (6 bytes each in JSON)', () => {
    const tag = filled('\u0001'.repeat(MAX_TEXT_LENGTH));
    expect(Buffer.byteLength(canonicalTagJson(tag))).toBeGreaterThan(MAX_TAG_JSON_BYTES);
    expect(codeOf(() => assertTagSize(tag))).toBe('TAG_TOO_LARGE');
    expect(codeOf(() => checkUserTag(tag))).toBe('TAG_TOO_LARGE');
  });

  it('refuses exactly the tags whose JSON is over the bound (the shortcut never decides otherwise)', () => {
    const random = prng(7);
    const alphabet = ['a', '\u0001', '€', '\ud800'];
    let refused = 0;
    for (let i = 0; i < 2_000; i++) {
      const text = () =>
        Array.from({ length: 100 + Math.floor(random() * 157) }, () => alphabet[Math.floor(random() * 4)]).join('');
      const tag: UserTag = {
        ...base,
        cookie: text(),
        country: text(),
        origin: text(),
        product_info: { product_id: text(), brand_id: text(), category_id: text(), price: 1 },
      };
      const over = Buffer.byteLength(canonicalTagJson(tag)) > MAX_TAG_JSON_BYTES;
      expect(codeOf(() => assertTagSize(tag))).toBe(over ? 'TAG_TOO_LARGE' : undefined);
      if (over) refused++;
    }
    // Both sides of the bound were tried.
    expect(refused).toBeGreaterThan(100);
    expect(refused).toBeLessThan(1_900);
  });
});

describe('checkUserTag: the ingest rules for a tag read off the topic', () => {
  it.each<[string, UserTag, string]>([
    ['a cookie over the length limit', { ...base, cookie: 'c'.repeat(MAX_TEXT_LENGTH + 1) }, 'INVALID_USER_TAG cookie'],
    ['an empty origin', { ...base, origin: '' }, 'INVALID_USER_TAG origin'],
    ['an unknown device', { ...base, device: 'WATCH' as UserTag['device'] }, 'INVALID_USER_TAG device'],
    [
      'a product_id beyond 2^53',
      { ...base, product_info: { ...base.product_info, product_id: 2 ** 53 + 2 } },
      'INVALID_USER_TAG product_info.product_id',
    ],
    [
      'a price beyond int32',
      { ...base, product_info: { ...base.product_info, price: 2 ** 31 } },
      'INVALID_USER_TAG product_info.price',
    ],
    ['a time without a zone', { ...base, time: '2022-03-22T12:15:00.000' }, 'INVALID_USER_TAG time'],
    ['30 February', { ...base, time: '2022-02-30T12:15:00.000Z' }, 'TIME_FORMAT time'],
  ])('refuses %s', (_what, tag, code) => {
    expect(codeOf(() => checkUserTag(tag))).toBe(code);
  });

  it('admits a valid tag, product_id a string or an integer', () => {
    expect(codeOf(() => checkUserTag(base))).toBeUndefined();
    const named = { ...base, product_info: { ...base.product_info, product_id: 'p-7' } };
    expect(codeOf(() => checkUserTag(named))).toBeUndefined();
  });
});
