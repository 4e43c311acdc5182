import { EwmaPoint, EwmaSpec, checkEwmaSpec, ewmaAlpha, ewmaNext, ewmaParamsOf } from './ewma';

/** Folds `prices` (at `times`, or 1 ms apart) through ewmaNext, the code under test. */
function run(spec: EwmaSpec, prices: readonly number[], times?: readonly number[]): number[] {
  let point: EwmaPoint | null = null;
  return prices.map((price, i) => {
    point = ewmaNext(spec, point, price, times?.[i] ?? i);
    return point.value;
  });
}

/**
 * Independent reference: the closed (non-recursive) form of pandas `ewm(..., adjust=False).mean()`,
 * y_t = (1 - a)^t x_0 + sum_{i=1..t} a (1 - a)^(t - i) x_i.
 */
function constantAlphaReference(alpha: number, prices: readonly number[]): number {
  const t = prices.length - 1;
  let y = (1 - alpha) ** t * prices[0];
  for (let i = 1; i <= t; i++) y += alpha * (1 - alpha) ** (t - i) * prices[i];
  return y;
}

/**
 * Independent reference for the half-life EWMA: 1 - alpha_j = 2^(-dt_j / h), so the product of the
 * decays from trade i to the last trade T is 2^(-(T - t_i) / h):
 * y = 2^(-(T - t_0) / h) x_0 + sum_{i>=1} (1 - 2^(-dt_i / h)) 2^(-(T - t_i) / h) x_i.
 */
function halfLifeReference(halfLifeMs: number, prices: readonly number[], times: readonly number[]): number {
  const last = times[times.length - 1];
  let y = 2 ** (-(last - times[0]) / halfLifeMs) * prices[0];
  for (let i = 1; i < prices.length; i++) {
    const decayOfStep = 2 ** (-(times[i] - times[i - 1]) / halfLifeMs);
    y += (1 - decayOfStep) * 2 ** (-(last - times[i]) / halfLifeMs) * prices[i];
  }
  return y;
}

const PRICES = [100.5, 101.0, 100.0, 102.25, 101.75, 99.5, 100.0, 103.0];
const TIMES = [0, 250, 1_000, 1_000, 4_000, 4_100, 10_000, 10_001];

describe('EWMA', () => {
  describe('span', () => {
    it('uses alpha = 2 / (N + 1): span 3 halves, values worked by hand', () => {
      // alpha 0.5: 10; 0.5*10 + 0.5*11 = 10.5; 0.5*10.5 + 0.5*9 = 9.75; 0.5*9.75 + 0.5*12 = 10.875
      expect(run({ mode: 'span', span: 3 }, [10, 11, 9, 12])).toEqual([10, 10.5, 9.75, 10.875]);
    });

    it('matches pandas ewm(span=20, adjust=False) on a price series', () => {
      const values = run({ mode: 'span', span: 20 }, PRICES);
      // Exact rational arithmetic (Python fractions, alpha = 2/21), rounded once to a double.
      expect(values[values.length - 1]).toBeCloseTo(100.81415372099688, 11);
      values.forEach((v, t) => expect(v).toBeCloseTo(constantAlphaReference(2 / 21, PRICES.slice(0, t + 1)), 11));
    });

    it('starts at the first price, not at zero', () => {
      expect(run({ mode: 'span', span: 1_000 }, [42_000])).toEqual([42_000]);
    });
  });

  describe('alpha', () => {
    it('matches pandas ewm(alpha=0.1, adjust=False) on a price series', () => {
      const values = run({ mode: 'alpha', alpha: 0.1 }, PRICES);
      // Exact in decimal: 100.82699005 (Python fractions).
      expect(values[values.length - 1]).toBeCloseTo(100.82699005, 11);
      values.forEach((v, t) => expect(v).toBeCloseTo(constantAlphaReference(0.1, PRICES.slice(0, t + 1)), 11));
    });

    it('alpha 1 follows the last price', () => {
      expect(run({ mode: 'alpha', alpha: 1 }, PRICES)).toEqual(PRICES);
    });
  });

  describe('halflife', () => {
    const spec: EwmaSpec = { mode: 'halflife', halfLifeMs: 1_000 };

    it('decays by the time between trades, values worked by hand', () => {
      // t=1000: dt = h, alpha = 1/2 -> 150; t=3000: dt = 2h, alpha = 3/4 -> 0.25*150 + 0.75*100 = 112.5;
      // t=3000 again: dt = 0, alpha = 0 -> unchanged; t=3500: alpha = 1 - 2^-0.5.
      const values = run(spec, [100, 200, 100, 300, 200], [0, 1_000, 3_000, 3_000, 3_500]);
      expect(values.slice(0, 4)).toEqual([100, 150, 112.5, 112.5]);
      const a = 1 - Math.SQRT1_2;
      expect(values[4]).toBeCloseTo((1 - a) * 112.5 + a * 200, 12);
    });

    it('matches the closed form 2^(-dt/h) weights on an irregular series', () => {
      const values = run({ mode: 'halflife', halfLifeMs: 2_000 }, PRICES, TIMES);
      // Python: recursion with alpha_i = 1 - exp(-ln2 * dt_i / h), h = 2000.
      expect(values[values.length - 1]).toBeCloseTo(100.158644414182, 11);
      values.forEach((v, t) =>
        expect(v).toBeCloseTo(halfLifeReference(2_000, PRICES.slice(0, t + 1), TIMES.slice(0, t + 1)), 11),
      );
    });

    it('an out-of-order trade gets no weight and does not move time back', () => {
      const point = ewmaNext(spec, { value: 100, time: 5_000 }, 300, 4_000);
      expect(point).toEqual({ value: 100, time: 5_000 });
      expect(ewmaAlpha(spec, -1)).toBe(0);
    });
  });

  it('carries its state: folding a series in two parts equals folding it at once', () => {
    const spec: EwmaSpec = { mode: 'halflife', halfLifeMs: 1_500 };
    let point: EwmaPoint | null = null;
    for (let i = 0; i < 4; i++) point = ewmaNext(spec, point, PRICES[i], TIMES[i]);
    const carried = { ...point! };
    for (let i = 4; i < PRICES.length; i++) point = ewmaNext(spec, point, PRICES[i], TIMES[i]);
    let resumed: EwmaPoint = carried;
    for (let i = 4; i < PRICES.length; i++) resumed = ewmaNext(spec, resumed, PRICES[i], TIMES[i]);
    expect(resumed).toEqual(point);
    expect(resumed.value).toBeCloseTo(halfLifeReference(1_500, PRICES, TIMES), 11);
  });

  it('publishes its parameters', () => {
    expect(ewmaParamsOf({ mode: 'span', span: 3 })).toEqual({ mode: 'span', alpha: 0.5, span: 3, half_life_ms: null });
    expect(ewmaParamsOf({ mode: 'alpha', alpha: 0.2 })).toEqual({
      mode: 'alpha',
      alpha: 0.2,
      span: null,
      half_life_ms: null,
    });
    expect(ewmaParamsOf({ mode: 'halflife', halfLifeMs: 60_000 })).toEqual({
      mode: 'halflife',
      alpha: null,
      span: null,
      half_life_ms: 60_000,
    });
  });

  it('rejects parameters no EWMA can use', () => {
    expect(() => checkEwmaSpec({ mode: 'span', span: 0.5 })).toThrow(/span must be >= 1/);
    expect(() => checkEwmaSpec({ mode: 'alpha', alpha: 0 })).toThrow(/alpha must be in \(0, 1\]/);
    expect(() => checkEwmaSpec({ mode: 'halflife', halfLifeMs: 0 })).toThrow(/half-life must be > 0/);
    expect(checkEwmaSpec({ mode: 'alpha', alpha: 1 })).toEqual({ mode: 'alpha', alpha: 1 });
  });
});
