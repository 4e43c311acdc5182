/**
 * `npm run bench`: every benchmark of the repository, one after the other (two cores: running them side
 * by side would measure the contention), each bounded in time, and one section appended to
 * bench/RESULTS.md with the machine, the date, the commit, the load average around each bench, its
 * command, exit status and its figures.
 *
 *   npm run bench [-- --quick] [--only ingest,catch-up] [--no-append] [--list]
 *
 * --quick runs a short smoke of every bench (small counts, seconds); the section then says so. A
 * *.bench.ts file that is not registered below still runs, with its default arguments, so a new bench
 * is never silently left out.
 */
import { ChildProcess, execSync, spawn } from 'node:child_process';
import { appendFileSync, createWriteStream, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(__dirname, '..');

interface BenchSpec {
  name: string;
  file: string;
  /** tsx (esbuild, no decorator metadata) or swc (@swc-node/register, for Nest injection by type). */
  runner: 'tsx' | 'swc';
  args: string[];
  quick: string[];
  timeoutS: number;
  quickTimeoutS: number;
  /** The target it checks, from the issues. */
  target?: string;
}

const BENCHES: BenchSpec[] = [
  {
    name: 'ingest',
    file: 'bench/ingest/ingest.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--quick'],
    timeoutS: 600,
    quickTimeoutS: 300,
    target:
      'issue 4: POST /user_tags >= 5,000 req/s for 60 s, p99 <= 50 ms, zero errors; profile reads p99 <= 10 ms at 500 req/s meanwhile',
  },
  {
    name: 'gateway CPU per request',
    file: 'bench/ingest/gateway-cpu.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--seconds', '5', '--rate', '1000'],
    timeoutS: 300,
    quickTimeoutS: 200,
    target: 'issue 14: what POST /user_tags costs the gateway and the broker, against a bare Fastify floor',
  },
  {
    name: 'pipeline catch-up',
    file: 'bench/pipeline/catch-up.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--quick'],
    timeoutS: 1_500,
    quickTimeoutS: 400,
    target: 'issue 5: 1,000,000-tag backlog into PostgreSQL at >= 50,000 tags/s',
  },
  {
    name: 'profile store reads during appends',
    file: 'bench/persistence/profile-store.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--seconds=5', '--cookies=2000'],
    timeoutS: 600,
    quickTimeoutS: 240,
    target: 'issue 4: profile reads p99 <= 10 ms at 500 reads/s during ingest (store alone)',
  },
  {
    name: 'aggregates query latency',
    file: 'bench/persistence/cube-query.bench.ts',
    runner: 'tsx',
    // The cube of 24 h at 1,000 tags/s takes long to generate here (about 15 min for the load, and
    // rebuilding its indexes took over 10 min more on a busy box): the load is bounded, and the bench
    // reports how many hours it holds.
    args: ['--max-load-seconds=300'],
    quick: ['--hours=1', '--queries=300', '--max-load-seconds=60'],
    timeoutS: 2_400,
    quickTimeoutS: 300,
    target: 'issue 5: 10-minute ranges, any filter set, cube of 24 h at 1,000 tags/s: p99 <= 20 ms',
  },
  {
    name: 'cube flush',
    file: 'bench/persistence/cube-flush.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--tags=100000', '--max-seconds=60'],
    timeoutS: 600,
    quickTimeoutS: 240,
  },
  {
    name: 'raw-producer replay to Kafka',
    file: 'bench/raw-producer/replay-to-kafka.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--seconds', '5', '--warmup', '2'],
    timeoutS: 300,
    quickTimeoutS: 180,
  },
  {
    name: 'agg-producer module',
    file: 'bench/agg-producer/agg-producer.bench.ts',
    runner: 'swc',
    args: [],
    quick: ['--trades', '50000', '--seconds', '30'],
    timeoutS: 600,
    quickTimeoutS: 240,
    target: 'issue: >= 100,000 trades/s through Kafka',
  },
  {
    name: 'agg-producer processor',
    file: 'bench/agg-producer/processor.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['200000', '5'],
    timeoutS: 180,
    quickTimeoutS: 60,
  },
  {
    name: 'kafka-avro serde',
    file: 'bench/kafka-avro/serde.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--seconds', '0.5'],
    timeoutS: 300,
    quickTimeoutS: 120,
  },
  {
    name: 'kafka-avro produce/consume',
    file: 'bench/kafka-avro/produce-consume.bench.ts',
    runner: 'tsx',
    args: [],
    quick: ['--messages', '50000', '--seconds', '5'],
    timeoutS: 600,
    quickTimeoutS: 240,
  },
];

interface Outcome {
  spec: BenchSpec;
  command: string;
  exitCode: number | null;
  timedOut: boolean;
  seconds: number;
  loadBefore: number[];
  loadAfter: number[];
  output: string;
  logFile: string;
}

function findBenchFiles(dir = join(ROOT, 'bench')): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...findBenchFiles(path));
    else if (entry.endsWith('.bench.ts')) out.push(relative(ROOT, path));
  }
  return out.sort();
}

function commandOf(spec: BenchSpec, quick: boolean): { argv: string[]; text: string } {
  const args = quick ? spec.quick : spec.args;
  const argv =
    spec.runner === 'swc'
      ? [process.execPath, '-r', '@swc-node/register', spec.file, ...args]
      : [join(ROOT, 'node_modules', '.bin', 'tsx'), spec.file, ...args];
  const text = `${spec.runner === 'swc' ? 'node -r @swc-node/register' : 'npx tsx'} ${[spec.file, ...args].join(' ')}`;
  return { argv, text };
}

// Colour codes some benches print (ESC [ ... m).
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Runs one bench as its own process group (so a timeout can stop all it started), teeing its output. */
function runOne(spec: BenchSpec, quick: boolean, logDir: string): Promise<Outcome> {
  const { argv, text } = commandOf(spec, quick);
  const timeoutS = quick ? spec.quickTimeoutS : spec.timeoutS;
  const logFile = join(logDir, `${spec.name.replace(/[^a-z0-9]+/gi, '-')}.log`);
  const log = createWriteStream(logFile);
  const loadBefore = loadavg();
  const started = Date.now();
  console.log(`\n=== ${spec.name}: ${text} (at most ${timeoutS} s)`);
  return new Promise((resolvePromise) => {
    const child: ChildProcess = spawn(argv[0] as string, argv.slice(1), {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    const onData = (chunk: Buffer): void => {
      const s = chunk.toString('utf8');
      output += s;
      process.stdout.write(s);
      log.write(s);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    let timedOut = false;
    const kill = (signal: NodeJS.Signals): void => {
      // The bench's own process group: only what this driver started.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // Already gone.
        }
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      console.log(`\n=== ${spec.name}: time limit of ${timeoutS} s reached, stopping it`);
      kill('SIGTERM');
      setTimeout(() => kill('SIGKILL'), 20_000).unref();
    }, timeoutS * 1_000);
    // If this driver is interrupted, its benches go with it.
    const onSignal = (): void => kill('SIGTERM');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    child.on('close', (code) => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      log.end();
      resolvePromise({
        spec,
        command: text,
        exitCode: code,
        timedOut,
        seconds: (Date.now() - started) / 1_000,
        loadBefore,
        loadAfter: loadavg(),
        output: output.replace(ANSI, ''),
        logFile,
      });
    });
  });
}

function machine(): string {
  const sh = (cmd: string, fallback: string): string => {
    try {
      return execSync(cmd, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      return fallback;
    }
  };
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // Not Linux: the os module's name.
  }
  return (
    `nproc ${sh('nproc', String(cpus().length))}, ${model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, ` +
    `node ${process.version}, ${sh('uname -sr', 'unknown OS')}`
  );
}

function commit(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { cwd: ROOT }).toString().trim() !== '';
    return dirty ? `${sha} (with uncommitted changes in the tree)` : sha;
  } catch {
    return 'unknown';
  }
}

const load = (l: number[]): string => l.map((v) => v.toFixed(2)).join(' ');

/** The lines worth keeping of a bench's output: no framework log chatter, the tail. */
function figures(output: string, maxLines = 45): string {
  const lines = output
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !/^\[Nest\]|^\s+at |^npm warn/.test(l));
  const kept = lines.slice(-maxLines);
  return (lines.length > kept.length ? ['…', ...kept] : kept).join('\n');
}

function resultJson(output: string): Record<string, unknown> | undefined {
  const line = output
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('RESULT {'));
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** One line of headline figures for the benches that print a RESULT line. */
function headline(o: Outcome): string {
  const r = resultJson(o.output);
  if (r === undefined) return 'see its output below';
  const n = (v: unknown, d = 1): string => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
  if (r.bench === 'ingest') {
    return (
      `${n(r.acceptedRate, 0)} tags/s accepted of ${n(r.targetRate, 0)} asked, tag p99 ${n(r.tagP99Ms)} ms, ` +
      `profile reads ${n(r.profileReadsPerS, 0)}/s p99 ${n(r.profileP99Ms)} ms, errors ${n(r.errors, 0)}, wrong answers ${n(r.wrongAnswers, 0)}` +
      `${r.meetsTarget ? ' (target met)' : ' (target not met)'}`
    );
  }
  if (r.bench === 'catch-up') {
    const g = (x: unknown): string => {
      const v = x as { tagsPerSFromReady?: number | null; tagsPerS10to90?: number | null } | undefined;
      return `${n(v?.tagsPerSFromReady ?? NaN, 0)} tags/s (10-90 %: ${n(v?.tagsPerS10to90 ?? NaN, 0)})`;
    };
    return `${n(r.tags, 0)} tags: aggregates ${g(r.aggregates)}, profiles ${g(r.profiles)}${r.meetsTarget ? ' (target met)' : ' (target not met)'}`;
  }
  return JSON.stringify(r);
}

function section(outcomes: Outcome[], quick: boolean, startedAt: Date, skipped: string[]): string {
  const lines: string[] = [];
  lines.push(
    `## \`npm run bench${quick ? ' -- --quick' : ''}\`: every benchmark, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
  );
  lines.push('');
  lines.push(`Machine: ${machine()}. Commit ${commit()}. Driver: \`bench/run-all.ts\`, benches one after the other.`);
  if (quick)
    lines.push('**Quick smoke run** (small counts and short durations): figures are not comparable with the targets.');
  lines.push(
    "Load average (1, 5, 15 min) is given before and after each bench: this box is shared with other engineers' test runs, " +
      'and anything above ~0.5 before a bench means it did not have the machine to itself.',
  );
  lines.push('');
  lines.push('| bench | exit | time | load before → after | headline |');
  lines.push('|---|---|---|---|---|');
  for (const o of outcomes) {
    const exit = o.timedOut ? 'time limit' : o.exitCode === 0 ? '0' : String(o.exitCode);
    lines.push(
      `| ${o.spec.name} | ${exit} | ${o.seconds.toFixed(0)} s | ${load(o.loadBefore)} → ${load(o.loadAfter)} | ${headline(o).replace(/\|/g, '/')} |`,
    );
  }
  if (skipped.length > 0) lines.push(`\nNot run: ${skipped.join(', ')}.`);
  for (const o of outcomes) {
    lines.push('');
    lines.push(`### ${o.spec.name}: \`${o.command}\``);
    lines.push('');
    if (o.spec.target) lines.push(`Target: ${o.spec.target}.`);
    lines.push(
      `Exit ${o.timedOut ? `(stopped at its time limit of ${o.seconds.toFixed(0)} s)` : o.exitCode}, ${o.seconds.toFixed(0)} s; ` +
        `load average before ${load(o.loadBefore)}, after ${load(o.loadAfter)}.`,
    );
    lines.push('');
    lines.push('```text');
    lines.push(figures(o.output));
    lines.push('```');
  }
  lines.push('');
  return lines.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'no-append': { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick ?? false;
  const registered = new Set(BENCHES.map((b) => b.file));
  const discovered: BenchSpec[] = findBenchFiles()
    .filter((f) => !registered.has(f))
    .map((file) => ({
      name: file.replace(/^bench\/|\.bench\.ts$/g, ''),
      file,
      runner: 'tsx',
      args: [],
      quick: [],
      timeoutS: 900,
      quickTimeoutS: 300,
    }));
  const missing = BENCHES.filter((b) => !findBenchFiles().includes(b.file)).map(
    (b) => `${b.name} (${b.file} does not exist)`,
  );
  let plan = [...BENCHES.filter((b) => !missing.some((m) => m.includes(b.file))), ...discovered];
  const only = values.only?.split(',').map((s) => s.trim().toLowerCase());
  const skipped = [...missing];
  if (only !== undefined) {
    skipped.push(
      ...plan
        .filter((b) => !only.some((o) => b.name.toLowerCase().includes(o)))
        .map((b) => `${b.name} (not in --only)`),
    );
    plan = plan.filter((b) => only.some((o) => b.name.toLowerCase().includes(o)));
  }
  if (values.list) {
    for (const b of plan) console.log(`${b.name.padEnd(36)} ${commandOf(b, quick).text}`);
    return 0;
  }
  const startedAt = new Date();
  const logDir = join(ROOT, '.cache', 'bench', 'run-all', startedAt.toISOString().replace(/[:.]/g, '-'));
  mkdirSync(logDir, { recursive: true });
  console.log(
    `npm run bench${quick ? ' --quick' : ''}: ${plan.length} benches; machine ${machine()}; load ${load(loadavg())}; logs in ${logDir}`,
  );
  const outcomes: Outcome[] = [];
  for (const spec of plan) outcomes.push(await runOne(spec, quick, logDir));
  const text = section(outcomes, quick, startedAt, skipped);
  if (values['no-append']) console.log(`\n${text}`);
  else {
    appendFileSync(join(ROOT, 'bench', 'RESULTS.md'), `\n${text}`);
    console.log(
      `\nAppended to bench/RESULTS.md:\n\n${text
        .split('\n')
        .slice(0, 8 + outcomes.length)
        .join('\n')}`,
    );
  }
  return outcomes.every((o) => o.exitCode === 0 && !o.timedOut) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
