import { UsageError, parseCli } from './cli-options';

describe('parseCli', () => {
  it('reads the issue’s command line, defaults elsewhere', () => {
    const o = parseCli(['--url', 'http://127.0.0.1:8080', '--rate', '1000', '--duration', '60', '--seed', '7']);
    if (o === 'help') throw new Error('help');
    expect(o.loadgen).toMatchObject({
      url: 'http://127.0.0.1:8080',
      rate: 1000,
      durationS: 60,
      maxTags: Infinity,
      profileEvery: 10,
      aggregateEvery: 1000,
    });
    expect(o.loadgen.stream).toMatchObject({
      seed: 7,
      startMs: Date.UTC(2022, 2, 1),
      stepMs: 1,
      cookies: 1_000_000,
      countries: 100,
      origins: 1_000,
      brands: 250,
      categories: 67,
    });
  });

  it('bounds by count alone with --tags', () => {
    const o = parseCli(['--tags', '500']);
    if (o === 'help') throw new Error('help');
    expect(o.loadgen.maxTags).toBe(500);
    expect(o.loadgen.durationS).toBe(24 * 3600);
  });

  it('lists every bad flag at once', () => {
    expect(() => parseCli(['--rate', 'fast', '--buy-share', '2', '--start', '2022-03-01'])).toThrow(UsageError);
    try {
      parseCli(['--rate', 'fast', '--buy-share', '2', '--start', '2022-03-01']);
    } catch (e) {
      const msg = (e as Error).message;
      expect(msg).toMatch(/--rate/);
      expect(msg).toMatch(/--buy-share/);
      expect(msg).toMatch(/--start/);
    }
  });

  it('sets both data latencies with --data-latency-ms, the specific flags winning', () => {
    const o = parseCli(['--data-latency-ms', '3000', '--aggregate-latency-ms', '7000']);
    if (o === 'help') throw new Error('help');
    expect([o.loadgen.profileLatencyMs, o.loadgen.aggregateLatencyMs]).toEqual([3000, 7000]);
  });

  it('rejects unknown flags', () => {
    expect(() => parseCli(['--rat', '5'])).toThrow();
  });
});
