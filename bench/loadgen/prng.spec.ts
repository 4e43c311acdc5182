import { Rng, ZipfSampler } from './prng';

describe('Rng', () => {
  it('gives the same sequence for the same seed and label, and another for another', () => {
    const draw = (seed: number, label: string): number[] => {
      const r = new Rng(seed, label);
      return Array.from({ length: 8 }, () => r.nextU32());
    };
    expect(draw(7, 'tags')).toEqual(draw(7, 'tags'));
    expect(draw(7, 'tags')).not.toEqual(draw(8, 'tags'));
    expect(draw(7, 'tags')).not.toEqual(draw(7, 'queries'));
  });

  it('keeps int(n) within [0, n) and about uniform', () => {
    const r = new Rng(1);
    const counts = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const v = r.int(10);
      if (v < 0 || v >= 10 || !Number.isInteger(v)) outside++;
      else counts[v]!++;
    }
    expect(outside).toBe(0);
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('keeps float() in [0, 1) and between() inclusive', () => {
    const r = new Rng(3);
    const seen = new Set<number>();
    let outside = 0;
    for (let i = 0; i < 10_000; i++) {
      const f = r.float();
      if (!(f >= 0 && f < 1)) outside++;
      seen.add(r.between(-2, 2));
    }
    expect(outside).toBe(0);
    expect([...seen].sort()).toEqual([-1, -2, 0, 1, 2]);
  });
});

describe('ZipfSampler', () => {
  it('makes rank 1 about ln 2 / ln(n+1) likely when s = 1, and stays in [1, n]', () => {
    const z = new ZipfSampler(1_000_000, 1);
    const r = new Rng(5);
    let ones = 0;
    const n = 200_000;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const k = z.sample(r);
      if (!(k >= 1 && k <= 1_000_000)) outside++;
      if (k === 1) ones++;
    }
    expect(outside).toBe(0);
    const expected = Math.log(2) / Math.log(1_000_001);
    expect(Math.abs(ones / n - expected)).toBeLessThan(0.005);
  });

  it('is uniform when s = 0', () => {
    const z = new ZipfSampler(4, 0);
    const r = new Rng(6);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 40_000; i++) counts[z.sample(r)]!++;
    expect(counts[0]).toBe(0);
    for (const c of counts.slice(1)) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });
});
