import { RecentIdSet } from './recent-id-set';

describe('RecentIdSet', () => {
  it('says whether an id is new', () => {
    const set = new RecentIdSet(3);
    expect(set.add('a')).toBe(true);
    expect(set.add('b')).toBe(true);
    expect(set.add('a')).toBe(false);
    expect(set.has('b')).toBe(true);
    expect(set.has('c')).toBe(false);
  });

  it('forgets the oldest id beyond capacity, and never holds more than capacity', () => {
    const set = new RecentIdSet(3);
    for (const id of ['a', 'b', 'c', 'd']) set.add(id);
    expect(set.size).toBe(3);
    expect(set.has('a')).toBe(false);
    expect(['b', 'c', 'd'].every((id) => set.has(id))).toBe(true);
    // A re-added duplicate does not refresh its age: 'b' is still the next to go.
    expect(set.add('b')).toBe(false);
    set.add('e');
    expect(set.has('b')).toBe(false);
    expect(set.has('c')).toBe(true);
  });

  it('stays bounded over a long stream', () => {
    const set = new RecentIdSet(1_000);
    for (let i = 0; i < 50_000; i++) set.add(String(i));
    expect(set.size).toBe(1_000);
    expect(set.has('48999')).toBe(false);
    expect(set.has('49000')).toBe(true);
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new RecentIdSet(0)).toThrow(RangeError);
    expect(() => new RecentIdSet(1.5)).toThrow(RangeError);
  });
});
