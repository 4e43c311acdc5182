import { bucketQuantileMs, parseRouteBuckets, serverLatencyLines, subtractBuckets } from './server-latency';

const text = (n: { le: string; status: string; count: number }[]): string =>
  n
    .map(
      (b) =>
        `http_request_duration_seconds_bucket{le="${b.le}",method="POST",route="/user_tags",status="${b.status}"} ${b.count}`,
    )
    .join('\n');

describe('server-side latency from the gateway histogram', () => {
  it('sums status codes, subtracts the run before, and interpolates quantiles within a bucket', () => {
    const before = parseRouteBuckets(
      text([
        { le: '0.01', status: '204', count: 10 },
        { le: '0.1', status: '204', count: 10 },
        { le: '+Inf', status: '204', count: 10 },
      ]),
    );
    const after = parseRouteBuckets(
      [
        text([
          { le: '0.01', status: '204', count: 60 },
          { le: '0.1', status: '204', count: 108 },
          { le: '+Inf', status: '204', count: 110 },
        ]),
        text([
          { le: '0.01', status: '400', count: 0 },
          { le: '0.1', status: '400', count: 0 },
          { le: '+Inf', status: '400', count: 0 },
        ]),
        '# HELP something else',
      ].join('\n'),
    );
    const run = subtractBuckets(after, before).get('POST /user_tags')!;
    expect([...run]).toEqual([
      [0.01, 50],
      [0.1, 98],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    // Half the requests within 10 ms: p50 is the bucket's bound; p90 is (90-50)/(98-50) of the way to 100 ms.
    expect(bucketQuantileMs(run, 0.5)).toBeCloseTo(10, 9);
    expect(bucketQuantileMs(run, 0.9)).toBeCloseTo(10 + 90 * (40 / 48), 9);
    expect(bucketQuantileMs(run, 0.99)).toBe(Number.POSITIVE_INFINITY);
    expect(bucketQuantileMs(new Map(), 0.5)).toBeNaN();
    expect(serverLatencyLines(subtractBuckets(after, before))).toEqual([
      'POST /user_tags: 100 requests, server-side p50 10.0 ms, p99 Infinity ms',
    ]);
  });
});
