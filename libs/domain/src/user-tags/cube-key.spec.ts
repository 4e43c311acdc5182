import { cubeKeyOfQuery, cubeKeysOfTag, dimsOf } from './cube-key';

describe('cube keys', () => {
  const keys = cubeKeysOfTag(0, 'BUY', 'o', 'b', 'c');

  it('gives one distinct key per subset of dimensions', () => {
    expect(keys).toHaveLength(8);
    expect(new Set(keys.map((k) => JSON.stringify(k))).size).toBe(8);
  });

  it('holds the query key of every filter combination', () => {
    const filterSets = [
      {},
      { origin: 'o' },
      { brand_id: 'b' },
      { category_id: 'c' },
      { origin: 'o', brand_id: 'b' },
      { origin: 'o', category_id: 'c' },
      { brand_id: 'b', category_id: 'c' },
      { origin: 'o', brand_id: 'b', category_id: 'c' },
    ];
    for (const f of filterSets) {
      expect(keys).toContainEqual(cubeKeyOfQuery(0, 'BUY', f));
    }
  });

  it('does not confuse an empty filter value with no filter', () => {
    expect(dimsOf({ origin: '' })).toBe(1);
    expect(cubeKeyOfQuery(0, 'VIEW', { origin: '' })).not.toEqual(cubeKeyOfQuery(0, 'VIEW', {}));
  });
});
