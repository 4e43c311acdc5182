import { Backoff, exponentialBound, fullJitterDelay, sleep } from './backoff';

describe('exponentialBound', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => exponentialBound(a, 100, 2_000))).toEqual([
      100, 200, 400, 800, 1_600, 2_000, 2_000,
    ]);
  });

  it('stays at the cap for huge attempts', () => {
    expect(exponentialBound(10_000, 500, 30_000)).toBe(30_000);
  });

  it('rejects a negative attempt', () => {
    expect(() => exponentialBound(-1, 1, 2)).toThrow(RangeError);
  });
});

describe('fullJitterDelay', () => {
  it('spreads the delay over [0, bound)', () => {
    expect(fullJitterDelay(3, 100, 10_000, () => 0)).toBe(0);
    expect(fullJitterDelay(3, 100, 10_000, () => 0.5)).toBe(400);
    expect(fullJitterDelay(3, 100, 10_000, () => 0.999_999)).toBe(799);
  });

  it('never exceeds the cap', () => {
    for (let attempt = 0; attempt < 64; attempt++) {
      expect(fullJitterDelay(attempt, 250, 5_000)).toBeLessThan(5_000);
    }
  });
});

describe('sleep', () => {
  it('ends early when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(10_000, controller.signal);
    controller.abort();
    await slept;
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('Backoff', () => {
  it('steps through the exponential bounds without jitter, capped, and starts over after reset', () => {
    const backoff = new Backoff({ firstMs: 100, maxMs: 1_000 });
    expect(Array.from({ length: 6 }, () => backoff.next())).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoff.attempts).toBe(6);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('with jitter draws each delay below its bound', () => {
    const draws = [0.5, 0.999, 0];
    const backoff = new Backoff({ firstMs: 100, maxMs: 1_000, jitter: true, random: () => draws.shift() ?? 0 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 199, 0]);
  });
});
