import { firstDifference } from './answer-diff';

describe('firstDifference', () => {
  it('ignores key order and nothing else', () => {
    expect(
      firstDifference({ a: 1, b: [1, { c: 'x', d: null }] }, { b: [1, { d: null, c: 'x' }], a: 1 }),
    ).toBeUndefined();
  });

  it('reports the first differing path with both values', () => {
    expect(
      firstDifference({ views: [{ time: 'a' }, { time: 'b' }] }, { views: [{ time: 'a' }, { time: 'c' }] }),
    ).toEqual({
      path: '$.views[1].time',
      expected: 'b',
      actual: 'c',
    });
  });

  it('tells a shorter array by its length after the common prefix', () => {
    expect(firstDifference({ rows: [1, 2, 3] }, { rows: [1, 2] })).toEqual({
      path: '$.rows.length',
      expected: 3,
      actual: 2,
    });
  });

  it('keeps types apart: "1" is not 1, [] is not {}, null is not missing', () => {
    expect(firstDifference({ id: 1 }, { id: '1' })?.path).toBe('$.id');
    expect(firstDifference([], {})?.path).toBe('$');
    expect(firstDifference({ a: null }, {})).toEqual({ path: '$.a', expected: null, actual: undefined });
  });

  it('reports keys the answer has and the expectation does not, quoting odd names', () => {
    expect(firstDifference({}, { 'x-y': 1 })).toEqual({ path: '$["x-y"]', expected: undefined, actual: 1 });
  });
});
