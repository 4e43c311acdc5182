import { canonicalTagJson, UserTag } from '@lib/domain';
import { tagDigestHex } from './tag-identity';

const tag: UserTag = {
  time: '2022-03-22T12:15:00.000Z',
  cookie: 'c1',
  country: 'PL',
  device: 'PC',
  action: 'VIEW',
  origin: 'o1',
  product_info: { product_id: 42, brand_id: 'b1', category_id: 'k1', price: 100 },
};

describe('tag identity', () => {
  it('ignores the key order of the tag object', () => {
    const reordered = {
      product_info: { price: 100, category_id: 'k1', brand_id: 'b1', product_id: 42 },
      origin: 'o1',
      action: 'VIEW',
      device: 'PC',
      country: 'PL',
      cookie: 'c1',
      time: '2022-03-22T12:15:00.000Z',
    } as UserTag;
    expect(canonicalTagJson(reordered)).toBe(canonicalTagJson(tag));
    expect(tagDigestHex(canonicalTagJson(reordered))).toBe(tagDigestHex(canonicalTagJson(tag)));
  });

  it('round-trips through JSON with time text and product_id type intact', () => {
    const noMillis = { ...tag, time: '2022-03-22T12:15:00Z', product_info: { ...tag.product_info, product_id: '42' } };
    expect(JSON.parse(canonicalTagJson(noMillis))).toEqual(noMillis);
    expect(JSON.parse(canonicalTagJson(tag))).toEqual(tag);
  });

  it.each([
    ['product_id as a string', { ...tag, product_info: { ...tag.product_info, product_id: '42' } }],
    ['time without milliseconds (same instant)', { ...tag, time: '2022-03-22T12:15:00Z' }],
    ['another price', { ...tag, product_info: { ...tag.product_info, price: 101 } }],
    ['another device', { ...tag, device: 'TV' as const }],
  ])('tells apart a tag differing only by %s', (_what, other) => {
    expect(tagDigestHex(canonicalTagJson(other))).not.toBe(tagDigestHex(canonicalTagJson(tag)));
  });

  it('is 16 lower-case hex digits', () => {
    expect(tagDigestHex(canonicalTagJson(tag))).toMatch(/^[0-9a-f]{16}$/);
  });
});
