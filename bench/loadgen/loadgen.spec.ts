/**
 * The whole loadgen against a small in-memory API (testing/fake-api.server.ts): a correct one passes with
 * every answer checked, and each broken variant is caught. Short runs with a coarse event-time step, so
 * that minutes close (and aggregates get checked) within seconds.
 */
import { DEFAULT_OPTIONS, Loadgen, LoadgenOptions, LoadgenReport, defaultStream, parseComparisons } from './loadgen';
import { FakeApi, FakeApiOptions } from './testing/fake-api.server';

jest.setTimeout(30_000);

async function run(
  api: FakeApiOptions,
  over: Partial<LoadgenOptions> = {},
): Promise<{ report: LoadgenReport; fake: FakeApi }> {
  const fake = await FakeApi.start(api);
  try {
    const report = await new Loadgen({
      ...DEFAULT_OPTIONS,
      url: fake.url,
      rate: 1_000,
      // Bounded by count, so that the figures below are exact however slow the machine.
      maxTags: 2_000,
      durationS: 20,
      concurrency: 32,
      aggregateEvery: 50,
      profileLatencyMs: 200,
      aggregateLatencyMs: 200,
      finalQueries: 40,
      stream: { ...defaultStream(7), stepMs: 60, cookies: 2_000 },
      ...over,
    }).run();
    return { report, fake };
  } finally {
    await fake.stop();
  }
}

describe('Loadgen against an in-memory API', () => {
  it('passes a correct implementation, checking many answers of both kinds', async () => {
    const { report, fake } = await run({ visibilityDelayMs: 100 });
    expect(report.failures).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.tags.sent).toBe(2_000);
    expect(report.tags.accepted).toBe(2_000);
    expect(report.queries.user_profiles.correct).toBeGreaterThan(200);
    expect(report.queries.aggregates.correct).toBeGreaterThan(40);
    expect(report.queries.user_profiles.wrong + report.queries.aggregates.wrong).toBe(0);
    // The debug bodies it sent agree with the server's own answers too.
    expect(fake.comparisons.mismatch).toBe(0);
    expect(report.gatewayComparisons?.['any/match']).toBe(fake.comparisons.match);
    expect(report.timeline.length).toBeGreaterThanOrEqual(2);
    expect(report.latency.user_tags.count).toBe(2_000);
  });

  it('catches an implementation that applies the limit before the range, with the diff', async () => {
    const { report } = await run({ faults: { limitBeforeFilter: true } });
    expect(report.passed).toBe(false);
    expect(report.queries.user_profiles.wrong).toBeGreaterThan(0);
    expect(report.queries.user_profiles.diffs[0]).toMatchObject({
      request: expect.stringContaining('/user_profiles/'),
    });
    expect(report.failures.join('\n')).toMatch(/wrong answers to user_profiles/);
    expect(report.queries.user_profiles.diffs.map((d) => d.recheck)).toContain('still wrong');
  });

  it('catches lost tags and columns in the wrong order', async () => {
    const lost = await run({ faults: { loseEveryNth: 40 } });
    expect(lost.report.queries.aggregates.wrong).toBeGreaterThan(0);
    const columns = await run({ faults: { columnsInQueryOrder: true } });
    expect(columns.report.queries.aggregates.diffs.some((d) => d.at.startsWith('$.columns'))).toBe(true);
  });

  it('catches data that shows up later than the promised latency', async () => {
    const { report } = await run({ visibilityDelayMs: 900 }, { profileLatencyMs: 200, aggregateLatencyMs: 200 });
    expect(report.queries.user_profiles.wrong).toBeGreaterThan(0);
    // Asked again 5 s later, the answers are right: told apart as late, not lost.
    expect(report.queries.user_profiles.late).toBe(report.queries.user_profiles.wrong);
    expect(report.queries.user_profiles.diffs[0]?.recheck).toBe('late');
    expect(report.queries.user_profiles.rechecked.late).toBe(report.queries.user_profiles.late);
  });

  it('tells data that shows up only once the stream stopped (a system behind the rate) from lost data', async () => {
    const { report } = await run({ visibleWhenIdleMs: 5_400 });
    const q = report.queries.user_profiles;
    expect(q.wrong).toBeGreaterThan(0);
    expect(q.rechecked['late after the run']).toBeGreaterThan(0);
    expect(q.rechecked['still wrong']).toBe(0);
    expect(q.late).toBe(q.wrong - q.rechecked.indeterminate - q.rechecked.failed);
  });

  it('counts 503s as errors and keeps what they touched out of the checks: no answer is called wrong', async () => {
    const { report } = await run({ faults: { fail503EveryNth: 25 } });
    expect(report.passed).toBe(false);
    expect(report.tags.failed).toBe(80);
    expect(report.tags.uncertain).toBe(80);
    expect(report.model.uncertainCookies).toBeGreaterThan(0);
    expect(report.model.uncertainBuckets).toBeGreaterThan(0);
    expect(report.queries.user_profiles.wrong + report.queries.aggregates.wrong).toBe(0);
    expect(report.queries.aggregates.excluded['uncertain bucket']).toBeGreaterThan(0);
  });

  it('bounds the run by a count of tags', async () => {
    const { report } = await run({}, { maxTags: 300, durationS: 60, finalQueries: 5 });
    expect(report.tags.sent).toBe(300);
    expect(report.sendSeconds).toBeLessThan(5);
  });
});

describe('parseComparisons', () => {
  it('sums debug_comparisons_total by endpoint and result', () => {
    const text = [
      '# HELP debug_comparisons_total x',
      'debug_comparisons_total{endpoint="user_profiles",result="match"} 12',
      'debug_comparisons_total{result="mismatch",endpoint="aggregates"} 1',
      'other_total{endpoint="x"} 5',
    ].join('\n');
    expect(parseComparisons(text)).toEqual({ 'user_profiles/match': 12, 'aggregates/mismatch': 1 });
  });
});
