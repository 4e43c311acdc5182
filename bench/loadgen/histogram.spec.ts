import { Histogram } from './histogram';
import { Rng } from './prng';

describe('Histogram', () => {
  it('gives percentiles within 1 % of the exact ones and exact min, max and mean', () => {
    const rng = new Rng(9);
    const h = new Histogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // Log-normal-ish latencies from 50 µs to seconds.
      const v = Math.exp(rng.float() * 10) * 0.05;
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = values[Math.ceil((p / 100) * values.length) - 1] as number;
      expect(Math.abs(h.percentile(p) - exact) / exact).toBeLessThan(0.011);
    }
    expect(h.min).toBe(values[0]);
    expect(h.max).toBe(values[values.length - 1]);
    expect(h.summary().mean).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
  });

  it('reports NaN for no samples and merges counts', () => {
    const a = new Histogram();
    expect(a.summary().p99).toBeNaN();
    const b = new Histogram();
    a.record(1);
    b.record(100);
    a.merge(b);
    expect(a.count).toBe(2);
    expect(a.percentile(100)).toBe(100);
    expect(a.percentile(50)).toBeCloseTo(1, 1);
  });
});
