/**
 * The loadgen against the embedded mode: `npm start`'s entry point (apps/embedded/src/main.ts, all apps in
 * one process, in-process log, PGlite) as a child process on a fresh DATA_DIR, debug comparison on. The
 * same run as against the local stack (about 20 s at 300 tags/s, 20 ms event-time step, one aggregates
 * query per 100 tags, then the final round), and the same two checks: the loadgen's own comparison and
 * the gateway's debug counter.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeReports } from '../../bench/loadgen/main';
import { DEFAULT_OPTIONS, Loadgen, LoadgenReport, defaultStream } from '../../bench/loadgen/loadgen';
import { markdownReport } from '../../bench/loadgen/report';
import { AppProcess } from '../../bench/loadgen/system/app-process';

jest.setTimeout(300_000);

const CACHE = resolve(__dirname, '..', '..', '.cache');
const REPORT_DIR = join(CACHE, 'loadgen', 'ci-embedded');

describe('loadgen against the embedded mode (npm start)', () => {
  let dataDir: string;
  let app: AppProcess;
  let report: LoadgenReport;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'loadgen-embedded-'));
    app = await AppProcess.start(
      'embedded',
      { DATA_DIR: dataDir, DEBUG_COMPARE: 'true', LOG_LEVEL: 'warn' },
      join(CACHE, 'loadgen-system', 'embedded'),
    );
    // First start: PGlite initialises its cluster and runs the migrations.
    await app.ready(180_000);
    report = await new Loadgen({
      ...DEFAULT_OPTIONS,
      url: app.url,
      rate: 300,
      durationS: 20,
      aggregateEvery: 100,
      finalQueries: 50,
      // Answers are checked here, latency in bench/: a slow answer on a busy CI machine is not a failure.
      timeoutMs: 10_000,
      stream: { ...defaultStream(7), stepMs: 20 },
    }).run();
    mkdirSync(REPORT_DIR, { recursive: true });
    writeReports(REPORT_DIR, report);
  });

  afterAll(async () => {
    await app?.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('gets every tag accepted and every checked answer right', () => {
    if (!report.passed)
      console.log(`${markdownReport(report)}\napp log: ${app.logFile}\nreport: ${join(REPORT_DIR, 'report.md')}`);
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
    expect(await app.metric('debug_comparisons_total', { result: 'mismatch' })).toBe(0);
    expect(await app.metric('debug_comparisons_total', { result: 'match' })).toBeGreaterThan(0);
  });
});
