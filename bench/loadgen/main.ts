/**
 * `npm run loadgen -- --url http://127.0.0.1:8080 --rate 1000 --duration 60 --seed 7` (see --help).
 * Prints a progress line while running, writes report.json, report.md and report.html, prints the
 * Markdown summary, and exits 1 on any wrong answer or error.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliOptions, USAGE, UsageError, parseCli } from './cli-options';
import { htmlReport } from './html-report';
import { Loadgen, LoadgenReport } from './loadgen';
import { markdownReport, progressLine } from './report';

/** Writes the three report files; returns their paths. */
export function writeReports(dir: string, report: LoadgenReport): { json: string; md: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const paths = { json: join(dir, 'report.json'), md: join(dir, 'report.md'), html: join(dir, 'report.html') };
  writeFileSync(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(paths.md, markdownReport(report));
  writeFileSync(paths.html, htmlReport(report));
  return paths;
}

async function main(): Promise<number> {
  let cli: CliOptions | 'help';
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (cli === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const tty = process.stderr.isTTY === true;
  let ticks = 0;
  const loadgen = new Loadgen({
    ...cli.loadgen,
    onProgress: cli.quiet
      ? undefined
      : (p) => {
          // A live line on a terminal; in CI logs one line every 5 s is enough.
          if (tty) process.stderr.write(`\r\x1b[K${progressLine(p)}`);
          else if (ticks++ % 5 === 0) process.stderr.write(`${progressLine(p)}\n`);
        },
  });
  const report = await loadgen.run();
  if (tty && !cli.quiet) process.stderr.write('\n');
  const dir = resolve(cli.reportDir ?? join('.cache', 'loadgen', report.startedAt.replace(/[:.]/g, '-')));
  const paths = writeReports(dir, report);
  process.stdout.write(`${markdownReport(report)}\nReports: ${paths.md}, ${paths.json}, ${paths.html}\n`);
  return report.passed ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`loadgen failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
