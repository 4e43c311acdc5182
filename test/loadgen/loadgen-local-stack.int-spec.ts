/**
 * The loadgen against the local-stack mode: the real gateway and pipeline as child processes on the test
 * run's Kafka broker and a fresh PostgreSQL database, debug comparison on. About 20 s at 300 tags/s with
 * a 20 ms event-time step (so two minutes of event time: buckets close and get checked during the run),
 * one aggregates query per 100 tags, then the final round once everything settled.
 *
 * Both checks must agree: the loadgen's own comparison (zero wrong answers, zero errors) and the
 * gateway's debug counter (no mismatch, and matches counted, so the debug bodies were really read).
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeReports } from '../../bench/loadgen/main';
import { DEFAULT_OPTIONS, Loadgen, LoadgenReport, defaultStream } from '../../bench/loadgen/loadgen';
import { markdownReport } from '../../bench/loadgen/report';
import { LocalSystem } from '../../bench/loadgen/system/local-system';
import { TestDatabase, createTestDatabase, testKafkaBrokers, uniqueName } from '../support/test-env';

jest.setTimeout(240_000);

const REPORT_DIR = resolve(__dirname, '..', '..', '.cache', 'loadgen', 'ci-local-stack');

describe('loadgen against the local stack (gateway + pipeline on Kafka and PostgreSQL)', () => {
  let db: TestDatabase;
  let system: LocalSystem;
  let report: LoadgenReport;

  beforeAll(async () => {
    db = await createTestDatabase('loadgen');
    system = await LocalSystem.start({
      kafkaBrokers: testKafkaBrokers().join(','),
      databaseUrl: db.url,
      runId: uniqueName('loadgen'),
      debugCompare: true,
    });
    report = await new Loadgen({
      ...DEFAULT_OPTIONS,
      url: system.gateway.url,
      rate: 300,
      durationS: 20,
      aggregateEvery: 100,
      finalQueries: 50,
      // CI checks answers, not latency (bench/ingest does): a slow answer on a busy CI machine is not a
      // failure, an error or a wrong answer is.
      timeoutMs: 10_000,
      stream: { ...defaultStream(7), stepMs: 20 },
    }).run();
    mkdirSync(REPORT_DIR, { recursive: true });
    writeReports(REPORT_DIR, report);
  });

  afterAll(async () => {
    await system?.stop();
    await db?.drop();
  });

  it('gets every tag accepted and every checked answer right', () => {
    // The Markdown summary (first diffs, errors) makes a failure readable in the CI log.
    if (!report.passed)
      console.log(`${markdownReport(report)}\napp logs: ${system.logDir}\nreport: ${join(REPORT_DIR, 'report.md')}`);
    expect(report.failures).toEqual([]);
    expect(report.tags.accepted).toBe(report.tags.sent);
    expect(report.tags.sent).toBeGreaterThan(5_000);
  });

  it('checks hundreds of profiles and dozens of aggregates, none wrong', () => {
    const { user_profiles: p, aggregates: a } = report.queries;
    expect({ wrong: p.wrong + a.wrong, errors: p.errors + a.errors }).toEqual({ wrong: 0, errors: 0 });
    expect(p.correct).toBeGreaterThan(400);
    expect(a.correct).toBeGreaterThan(50);
  });

  it('agrees with the gateway’s own debug comparison: matches counted, no mismatch', async () => {
    const mismatch = await system.gateway.metric('debug_comparisons_total', { result: 'mismatch' });
    const match = await system.gateway.metric('debug_comparisons_total', { result: 'match' });
    expect(mismatch).toBe(0);
    expect(match).toBeGreaterThan(0);
    expect(match).toBe(report.queries.user_profiles.sent + report.queries.aggregates.sent);
  });
});
