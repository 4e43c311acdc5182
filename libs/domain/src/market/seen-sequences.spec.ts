import { SeenSequences } from './seen-sequences';

describe('SeenSequences', () => {
  it('recognises a repeat and keeps a run of sequences as one range', () => {
    const s = new SeenSequences();
    for (let seq = 100; seq < 200; seq++) expect(s.add(seq)).toBe(true);
    expect(s.add(150)).toBe(false);
    expect(s.has(99)).toBe(false);
    expect(s.has(200)).toBe(false);
    expect(s.toFlat()).toEqual([100, 199]);
  });

  it('keeps gaps apart and joins them when they are filled, whatever the order', () => {
    const s = new SeenSequences();
    for (const seq of [1, 2, 3, 7, 8, 5, 10]) s.add(seq);
    expect(s.toFlat()).toEqual([1, 3, 5, 5, 7, 8, 10, 10]);
    s.add(4);
    s.add(6);
    s.add(9);
    expect(s.toFlat()).toEqual([1, 10]);
    expect(s.add(0)).toBe(true);
    expect(s.toFlat()).toEqual([0, 10]);
  });

  it('agrees with a plain set on a random stream of repeats, late and early sequences', () => {
    let x = 12345;
    const random = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const s = new SeenSequences([], 10_000);
    const model = new Set<number>();
    for (let i = 0; i < 20_000; i++) {
      const seq = Math.floor(random() * 3_000);
      expect(s.add(seq)).toBe(!model.has(seq));
      model.add(seq);
    }
    for (let seq = -5; seq < 3_005; seq++) expect(s.has(seq)).toBe(model.has(seq));
    // Restored from its flat form, it answers the same.
    const restored = new SeenSequences(s.toFlat(), 10_000);
    for (let seq = 0; seq < 3_000; seq += 7) expect(restored.has(seq)).toBe(model.has(seq));
  });

  it('keeps at most maxRanges ranges, forgetting the oldest', () => {
    const s = new SeenSequences([], 3);
    for (const seq of [1, 3, 5, 7, 9]) s.add(seq);
    expect(s.rangeCount).toBe(3);
    expect(s.has(1)).toBe(false);
    expect(s.has(9)).toBe(true);
    expect(() => new SeenSequences([1])).toThrow(RangeError);
  });
});
