import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { durationMs, interpolate, portsOf } from './compose';
import { keyValues, parseDockerfile, stagesFor, substitute } from './dockerfile';
import { DockerIgnore } from './dockerignore';
import { registeredMetrics } from './metric-registry';

describe('compose interpolation', () => {
  const env = { SET: 'v', EMPTY: '' };

  it.each([
    ['${SET}', 'v'],
    ['$SET/x', 'v/x'],
    ['${UNSET}', ''],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${UNSET:-${SET}}', 'v'],
    ['$$SET', '$SET'],
    ['agg-producer-{{.Task.Slot}}', 'agg-producer-{{.Task.Slot}}'],
  ])('%s -> %s', (text, expected) => {
    expect(interpolate(text, env)).toBe(expected);
  });

  it('fails on a required variable that is missing (or empty, with :?)', () => {
    expect(() => interpolate('${UNSET:?give it}', env)).toThrow('required variable UNSET is missing: give it');
    expect(() => interpolate('${EMPTY:?give it}', env)).toThrow('required variable EMPTY');
    expect(interpolate('${EMPTY?give it}', env)).toBe('');
  });

  it('reads durations and ports as compose writes them', () => {
    expect(durationMs('1m30s')).toBe(90_000);
    expect(durationMs('500ms')).toBe(500);
    expect(() => durationMs('15')).toThrow('not a duration');
    expect(
      portsOf({
        ports: ['8080:8080', '127.0.0.1:9094:9094', '3000', { target: 80, published: 8000, mode: 'ingress' }],
      }),
    ).toEqual([
      { published: 8080, target: 8080 },
      { published: 9094, target: 9094 },
      { published: undefined, target: 3000 },
      { published: 8000, target: 80, mode: 'ingress' },
    ]);
  });
});

describe('parseDockerfile', () => {
  const df = parseDockerfile(
    [
      '# syntax=docker/dockerfile:1.7',
      'ARG APP',
      'ARG BASE=node:20',
      '# a comment',
      'FROM ${BASE} AS deps',
      'RUN --mount=type=cache,target=/root/.npm \\',
      '    # a comment inside a continuation is dropped',
      '    npm install',
      'FROM deps AS build',
      'COPY --from=deps /a /b',
      'ENV A=1 B="two words"',
      'CMD ["node", "main.js"]',
      'FROM build AS app-x',
      'FROM app-${APP}',
    ].join('\n'),
  );

  it('reads directives, global ARGs, stages, flags, continuations and exec form', () => {
    expect(df.directives).toEqual({ syntax: 'docker/dockerfile:1.7' });
    expect(df.globalArgs.flatMap(keyValues)).toEqual([
      ['APP', undefined],
      ['BASE', 'node:20'],
    ]);
    expect(df.stages.map((s) => [s.name, s.from])).toEqual([
      ['deps', '${BASE}'],
      ['build', 'deps'],
      ['app-x', 'build'],
      [undefined, 'app-${APP}'],
    ]);
    const run = df.stages[0].instructions[0];
    expect(run).toMatchObject({ keyword: 'RUN', flags: { mount: ['type=cache,target=/root/.npm'] }, line: 6 });
    expect(run.args.replace(/\s+/g, ' ')).toBe('npm install');
    expect(df.stages[1].instructions[2].exec).toEqual(['node', 'main.js']);
    expect(keyValues(df.stages[1].instructions[1])).toEqual([
      ['A', '1'],
      ['B', 'two words'],
    ]);
  });

  it('resolves the stages a build of the last one needs, FROM ${ARG} included', () => {
    expect(stagesFor(df, { APP: 'x' }).map((r) => [r.stage.name ?? 'final', r.from])).toEqual([
      ['deps', 'node:20'],
      ['build', 'deps'],
      ['app-x', 'build'],
      ['final', 'app-x'],
    ]);
  });

  it('substitutes variables as Docker does', () => {
    expect(substitute('${A}-$B-${C:-c}-${A:+set}-${D:+set}', { A: 'a', B: 'b' })).toBe('a-b-c-set-');
  });

  it('rejects what it does not know', () => {
    expect(() => parseDockerfile('FROM x\nRUNN y')).toThrow('line 2: unknown instruction RUNN');
    expect(() => parseDockerfile('RUN x')).toThrow('only ARG may come before the first FROM');
  });
});

describe('DockerIgnore', () => {
  const ignore = new DockerIgnore(
    ['*', '!apps/', '!package.json', '**/*.spec.ts', '!apps/keep.spec.ts', 'apps/**/tmp'].join('\n'),
  );

  it.each([
    ['package.json', false],
    ['node_modules/x/index.js', true],
    ['README.md', true],
    ['apps/gateway/src/main.ts', false],
    ['apps/gateway/src/main.spec.ts', true],
    ['apps/keep.spec.ts', false],
    ['apps/gateway/tmp/x', true],
    ['libs/x.ts', true],
  ])('%s excluded: %s', (path, excluded) => {
    expect(ignore.excludes(path)).toBe(excluded);
  });

  it('walks the context without entering directories nothing re-includes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockerignore-'));
    try {
      for (const f of ['package.json', 'apps/a/main.ts', 'apps/a/main.spec.ts', 'node_modules/x/y.js', 'dist/z.js']) {
        mkdirSync(dirname(join(dir, f)), { recursive: true });
        writeFileSync(join(dir, f), '');
      }
      expect(ignore.contextFiles(dir)).toEqual(['apps/a/main.ts', 'package.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registeredMetrics', () => {
  const write = (files: Record<string, string>): string => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-'));
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    return dir;
  };

  it('resolves literal names, constants of the file, and helpers called with literals', () => {
    const dir = write({
      'apps/a/m.ts': [
        "import { Counter, Gauge } from 'prom-client';",
        "import { makeHistogramProvider } from '@willsoto/nestjs-prometheus';",
        "export const NAME = 'a_seconds';",
        'export const p = makeHistogramProvider({ name: NAME, help: "h", labelNames: ["x"] as const });',
        'new Gauge({ name: "a_gauge", help: "h" });',
        'const counter = (name: string, labelNames: string[] = []) => new Counter({ name, help: "h", labelNames });',
        "counter('a_total');",
        "counter('b_total', ['by']);",
      ].join('\n'),
      'apps/a/m.spec.ts': "import { Gauge } from 'prom-client'; new Gauge({ name: 'only_in_a_spec', help: 'h' });",
    });
    try {
      const m = registeredMetrics(dir, ['apps']);
      expect(m.get('a_seconds')).toMatchObject({ type: 'histogram', labelNames: ['x'] });
      expect(m.get('a_gauge')).toMatchObject({ type: 'gauge', labelNames: [] });
      expect(m.get('a_total')).toMatchObject({ type: 'counter', labelNames: [] });
      expect(m.get('b_total')).toMatchObject({ type: 'counter', labelNames: ['by'] });
      expect(m.has('only_in_a_spec')).toBe(false);
      expect(m.get('process_cpu_seconds_total')).toMatchObject({
        type: 'counter',
        source: 'prom-client default metrics',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails on a registration whose name it cannot resolve, rather than missing a metric', () => {
    const dir = write({
      'libs/b/m.ts':
        "import { Counter } from 'prom-client';\nimport { NAME } from './names';\nnew Counter({ name: NAME, help: 'h' });",
    });
    try {
      expect(() => registeredMetrics(dir, ['libs'])).toThrow('cannot resolve');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
