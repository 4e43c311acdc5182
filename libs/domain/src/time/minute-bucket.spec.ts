import { formatBucket, minuteBucketOf, minuteBucketsOf } from './minute-bucket';

describe('minute buckets', () => {
  it('floors to the start of the minute', () => {
    expect(minuteBucketOf(Date.parse('2022-03-01T00:05:59.999Z'))).toBe(Date.parse('2022-03-01T00:05:00Z'));
    expect(minuteBucketOf(Date.parse('2022-03-01T00:05:00.000Z'))).toBe(Date.parse('2022-03-01T00:05:00Z'));
    expect(minuteBucketOf(-1)).toBe(-60_000);
  });

  it('lists the buckets of a range in order', () => {
    const fromMs = Date.parse('2024-02-29T23:58:00Z');
    const buckets = minuteBucketsOf({ fromMs, toMs: fromMs + 3 * 60_000 });
    expect(buckets.map(formatBucket)).toEqual(['2024-02-29T23:58:00', '2024-02-29T23:59:00', '2024-03-01T00:00:00']);
  });

  it('lists the bucket holding an unaligned start', () => {
    const fromMs = Date.parse('2022-03-01T00:05:30Z');
    expect(minuteBucketsOf({ fromMs, toMs: fromMs + 60_000 }).map(formatBucket)).toEqual([
      '2022-03-01T00:05:00',
      '2022-03-01T00:06:00',
    ]);
  });
});
