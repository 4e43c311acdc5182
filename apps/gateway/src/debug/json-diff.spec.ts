import { firstDifference } from './json-diff';

describe('firstDifference', () => {
  it('ignores key order', () => {
    expect(firstDifference({ a: 1, b: [1, { c: 'x', d: 2 }] }, { b: [1, { d: 2, c: 'x' }], a: 1 })).toBeUndefined();
  });

  it('finds the first differing path', () => {
    expect(
      firstDifference({ views: [{ time: 'a' }, { time: 'b' }] }, { views: [{ time: 'a' }, { time: 'c' }] }),
    ).toEqual({
      path: '$.views[1].time',
      expected: 'b',
      actual: 'c',
    });
  });

  it('tells a string from a number and a missing key from a present one', () => {
    expect(firstDifference({ id: 123 }, { id: '123' })).toEqual({ path: '$.id', expected: 123, actual: '123' });
    expect(firstDifference({ a: 1 }, { a: 1, b: null })).toEqual({ path: '$.b', expected: undefined, actual: null });
  });

  it('reports a length difference after the common prefix', () => {
    expect(firstDifference([1, 2, 3], [1, 2])).toEqual({ path: '$.length', expected: 3, actual: 2 });
  });

  it('compares time strings as strings', () => {
    expect(firstDifference({ t: '2022-03-22T12:15:00Z' }, { t: '2022-03-22T12:15:00.000Z' })?.path).toBe('$.t');
  });

  it('quotes keys that are not identifiers', () => {
    expect(firstDifference({ '1m_bucket': 1 }, { '1m_bucket': 2 })?.path).toBe('$["1m_bucket"]');
  });
});
