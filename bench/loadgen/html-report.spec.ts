import { htmlReport, lineChart } from './html-report';
import { DEFAULT_OPTIONS, LoadgenReport, defaultStream } from './loadgen';
import { Histogram } from './histogram';

function report(): LoadgenReport {
  const empty = new Histogram().summary();
  const lat = { user_tags: empty, user_profiles: empty, aggregates: empty };
  const zeros = { user_tags: 0, user_profiles: 0, aggregates: 0 };
  const nulls = { user_tags: null, user_profiles: null, aggregates: null };
  return {
    tool: 'loadgen',
    url: 'http://127.0.0.1:1',
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:01:00.000Z',
    options: { concurrency: DEFAULT_OPTIONS.concurrency },
    stream: defaultStream(7),
    sendSeconds: 3,
    targetRate: 10,
    achievedRate: 10,
    acceptedRate: 10,
    eventTime: { first: 'a', last: 'b' },
    tags: {
      sent: 30,
      accepted: 30,
      rejected: 0,
      failed: 0,
      timedOut: 0,
      networkErrors: 0,
      uncertain: 0,
      errorSamples: [],
    },
    queries: {
      user_profiles: {
        sent: 1,
        correct: 0,
        wrong: 1,
        errors: 0,
        indeterminate: 0,
        excluded: {},
        final: 0,
        late: 0,
        rechecked: { late: 0, 'late after the run': 0, 'still wrong': 0, indeterminate: 0, failed: 0 },
        errorSamples: [],
        diffs: [{ request: 'POST /user_profiles/<script>', at: '$.views', expected: [], actual: null }],
      },
      aggregates: {
        sent: 0,
        correct: 0,
        wrong: 0,
        errors: 0,
        indeterminate: 0,
        excluded: {},
        final: 0,
        late: 0,
        rechecked: { late: 0, 'late after the run': 0, 'still wrong': 0, indeterminate: 0, failed: 0 },
        errorSamples: [],
        diffs: [],
      },
    },
    latency: lat,
    scheduledLatency: lat,
    scheduler: { lagP99Ms: 0, lagMaxMs: 0, sendsLateOver10Ms: 0 },
    model: { cookies: 3, uncertainCookies: 0, uncertainBuckets: 0 },
    timeline: [0, 1, 2].map((t) => ({
      t,
      sent: { ...zeros, user_tags: 10 },
      ok: { ...zeros, user_tags: 10 },
      errors: 0,
      wrong: t === 1 ? 1 : 0,
      p50: { ...nulls, user_tags: 1 },
      p99: { ...nulls, user_tags: 5 + t },
      max: nulls,
    })),
    passed: false,
    failures: ['1 wrong answers to user_profiles queries'],
  };
}

describe('htmlReport', () => {
  it('is one self-contained page: inline SVG charts, nothing fetched, text escaped', () => {
    const html = htmlReport(report());
    expect(html).toMatch(/^<!doctype html>/);
    expect((html.match(/<svg /g) ?? []).length).toBe(2);
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
    // The only URL is the SVG namespace (and the target's, as text).
    expect(
      [...html.matchAll(/https?:\/\/[^\s"<]+/g)]
        .map((m) => m[0])
        .filter((u) => !u.startsWith('http://www.w3.org/2000/svg') && !u.startsWith('http://127.0.0.1:1')),
    ).toEqual([]);
    expect(html).toContain('/user_profiles/&lt;script&gt;');
    expect(html).toContain('FAILED');
  });

  it('breaks a line at missing points instead of drawing it through zero', () => {
    const svg = lineChart('t', 'y', [{ name: 's', color: '#000', values: [1, null, 3, 4] }]);
    const d = /<path d="([^"]+)"/.exec(svg)?.[1] ?? '';
    expect(d.match(/M/g)).toHaveLength(2);
    expect(d.match(/L/g)).toHaveLength(1);
  });
});
