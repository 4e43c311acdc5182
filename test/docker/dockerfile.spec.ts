import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { DockerIgnore } from './support/dockerignore';
import {
  Dockerfile,
  Instruction,
  keyValues,
  lineage,
  readDockerfile,
  stageNamed,
  stagesFor,
  substitute,
  words,
} from './support/dockerfile';
import {
  APP_SCHEMAS,
  AppName,
  builtEntry,
  CLUSTER_APPS,
  defaults,
  DOCKER,
  nestApps,
  nestProjects,
  NOT_IN_CLUSTER,
  ROOT,
  tsconfigChain,
} from './support/repo';

/**
 * docker/Dockerfile against the repository: the stages the issue asks for, what each copies and
 * runs, and, per app, that the image starts the file `nest build` writes, on the port its config
 * defaults to, with the files its defaults read. test/docker/rehearse-build.ts runs the same steps.
 */

const df: Dockerfile = readDockerfile(join(DOCKER, 'Dockerfile'));
const ignore = DockerIgnore.read(ROOT);
const context = ignore.contextFiles(ROOT);
const apps: string[] = CLUSTER_APPS;

const globalDefault = (name: string): string | undefined =>
  df.globalArgs.flatMap((a) => keyValues(a)).find(([k]) => k === name)?.[1];
const runs = (stage: string): Instruction[] => stageNamed(df, stage).instructions.filter((i) => i.keyword === 'RUN');
const copies = (stage: string): Instruction[] => stageNamed(df, stage).instructions.filter((i) => i.keyword === 'COPY');
const copySources = (ins: Instruction, vars: Record<string, string> = {}): string[] =>
  (ins.exec ?? words(ins.args)).slice(0, -1).map((s) => substitute(s, vars));
const copyDest = (ins: Instruction, vars: Record<string, string> = {}): string =>
  substitute((ins.exec ?? words(ins.args)).slice(-1)[0], vars);
const inContext = (path: string): boolean => {
  const p = posix.normalize(path).replace(/\/$/, '');
  return context.some((f) => f === p || f.startsWith(`${p}/`));
};

describe('docker/Dockerfile', () => {
  it('uses BuildKit syntax (cache mounts) and takes the app as a required build argument', () => {
    expect(df.directives.syntax).toMatch(/^docker\/dockerfile:1(\.\d+)?$/);
    expect(df.globalArgs.flatMap((a) => keyValues(a))).toContainEqual(['APP', undefined]);
  });

  it('knows every application of nest-cli.json: an image each, or none on purpose', () => {
    for (const app of apps) expect(nestApps()).toContain(app);
    expect(nestApps().filter((a) => !apps.includes(a) && !NOT_IN_CLUSTER.includes(a))).toEqual([]);
  });

  it('has the stages deps, build, prod-deps, runtime and one per app, the last picked by APP', () => {
    const names = df.stages.map((s) => s.name);
    expect(names.slice(0, 4)).toEqual(['deps', 'build', 'prod-deps', 'runtime']);
    expect(names.filter((n) => n?.startsWith('app-')).sort()).toEqual(apps.map((a) => `app-${a}`).sort());
    expect(df.stages[df.stages.length - 1].from).toBe('app-${APP}');
  });

  it.each(apps)('builds %s through deps, build, prod-deps and runtime', (app) => {
    const order = stagesFor(df, { APP: app }).map((r) => r.stage.name ?? 'final');
    expect(order).toEqual(expect.arrayContaining(['deps', 'build', 'prod-deps', 'runtime', `app-${app}`, 'final']));
    expect(order.filter((n) => n.startsWith('app-'))).toEqual([`app-${app}`]);
  });

  it('runs the same Node major and Debian release in the build stages and the runtime (native addons, copied libraries)', () => {
    const build = globalDefault('NODE_IMAGE') ?? '';
    const runtime = globalDefault('RUNTIME_IMAGE') ?? '';
    const buildNode = /^node:(\d+)-(\w+)-slim$/.exec(build);
    const runtimeNode = /^gcr\.io\/distroless\/nodejs(\d+)-debian(\d+):(\S+)$/.exec(runtime);
    expect(buildNode).not.toBeNull();
    expect(runtimeNode).not.toBeNull();
    const codenames: Record<string, string> = { bookworm: '12', trixie: '13' };
    expect(buildNode?.[1]).toBe(runtimeNode?.[1]);
    expect(codenames[buildNode?.[2] ?? '']).toBe(runtimeNode?.[2]);
    // package.json: engines >= 22.12 (what the dependencies need); the images run the LTS line (.nvmrc), not older.
    const engines = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } })
      .engines.node;
    expect(Number(buildNode?.[1])).toBeGreaterThanOrEqual(Number(/(\d+)/.exec(engines)?.[1]));
    // The same major as CI runs on (.ci/run installs the Node that .nvmrc pins).
    const pinned = readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim();
    expect(buildNode?.[1]).toBe(/^(\d+)\./.exec(pinned)?.[1]);
  });

  it('installs dependencies from package.json and the lock alone, before any source is copied, with an npm cache mount', () => {
    for (const stage of ['deps', 'prod-deps']) {
      const ins = stageNamed(df, stage).instructions;
      const install = ins.findIndex((i) => i.keyword === 'RUN' && /\bnpm (ci|install)\b/.test(i.args));
      expect(install).toBeGreaterThan(0);
      const copiedBefore = ins
        .slice(0, install)
        .filter((i) => i.keyword === 'COPY')
        .flatMap((i) => copySources(i));
      expect(copiedBefore.sort()).toEqual(['package-lock.json', 'package.json']);
      expect(ins[install].flags.mount).toContainEqual(expect.stringMatching(/type=cache,target=\/root\/\.npm/));
    }
    expect(runs('prod-deps').some((r) => /npm (ci|install)\b.*--omit=dev/.test(r.args))).toBe(true);
    expect(runs('deps').some((r) => /--omit=dev/.test(r.args))).toBe(false);
  });

  it('copies the sources only in the build stage, after deps, and builds with the Nest CLI', () => {
    expect(stageNamed(df, 'build').from).toBe('deps');
    const sources = copies('build').flatMap((c) => copySources(c, { APP: 'gateway' }));
    expect(sources).toEqual(expect.arrayContaining(['nest-cli.json', 'tsconfig.json', 'libs', 'apps/gateway']));
    expect(runs('build').map((r) => r.args)).toContainEqual(expect.stringMatching(/npx nest build "?\$\{?APP\}?"?/));
  });

  it.each(apps)('gives the Nest CLI building %s its tsconfig and those it extends', (app) => {
    const copied = copies('build').flatMap((c) => copySources(c, { APP: app }));
    const has = (file: string) => copied.some((s) => s === file || file.startsWith(`${s}/`));
    for (const f of tsconfigChain(nestProjects()[app].compilerOptions?.tsConfigPath ?? 'tsconfig.json')) {
      expect({ f, copied: has(f) }).toEqual({ f, copied: true });
    }
  });

  it.each(apps)('has in its build context every file the build of %s copies', (app) => {
    for (const stage of ['deps', 'build', 'prod-deps']) {
      for (const c of copies(stage).filter((i) => !i.flags.from)) {
        for (const s of copySources(c, { APP: app }))
          expect({ source: s, inContext: inContext(s) }).toEqual({ source: s, inContext: true });
      }
    }
  });

  it('keeps out of the build context what must not reach the daemon or bust the cache', () => {
    for (const path of [
      'node_modules/x',
      'dist/apps/gateway/main.js',
      '.git/HEAD',
      '.env',
      'apps/gateway/.env',
      '.data/pglite/x',
      '.stack/x',
      '.cache/x',
      'test/docker/dockerfile.spec.ts',
      'apps/gateway/src/main.spec.ts',
      'libs/domain/src/x.int-spec.ts',
      'bench/x.ts',
      'docker/compose.yaml',
    ]) {
      expect({ path, excluded: ignore.excludes(path) }).toEqual({ path, excluded: true });
    }
    expect(context).toEqual(
      expect.arrayContaining([
        'package.json',
        'package-lock.json',
        'apps/gateway/src/main.ts',
        'libs/config/src/index.ts',
      ]),
    );
  });

  it('runs as a non-root user on distroless, with no shell: no RUN and exec-form CMD after the runtime stage', () => {
    expect(stageNamed(df, 'runtime').from).toBe('${RUNTIME_IMAGE}');
    expect(globalDefault('RUNTIME_IMAGE')).toMatch(/:nonroot$/);
    const user = stageNamed(df, 'runtime')
      .instructions.filter((i) => i.keyword === 'USER')
      .map((i) => i.args);
    expect(user).toEqual(['65532:65532']);
    for (const app of apps) {
      const stage = stageNamed(df, `app-${app}`);
      expect(stage.instructions.filter((i) => ['RUN', 'ENTRYPOINT', 'USER'].includes(i.keyword))).toEqual([]);
      const cmd = stage.instructions.filter((i) => i.keyword === 'CMD');
      expect(cmd).toHaveLength(1);
      expect(cmd[0].exec).toBeDefined();
    }
  });

  it('makes the apps listen on every interface of the container', () => {
    const env = Object.fromEntries(
      stageNamed(df, 'runtime')
        .instructions.filter((i) => i.keyword === 'ENV')
        .flatMap(keyValues),
    );
    expect(env.HOST).toBe('0.0.0.0');
    for (const app of Object.keys(APP_SCHEMAS) as AppName[])
      expect(APP_SCHEMAS[app].shape.HOST.safeParse('0.0.0.0').success).toBe(true);
  });

  it('ships the libraries its native addons need that distroless lacks', () => {
    const runtime = stageNamed(df, 'runtime');
    const env = Object.fromEntries(runtime.instructions.filter((i) => i.keyword === 'ENV').flatMap(keyValues));
    const copied = copies('runtime')
      .filter((c) => c.flags.from?.[0] === 'prod-deps')
      .map((c) => copyDest(c));
    expect(copied).toContain(env.LD_LIBRARY_PATH);
    expect(runs('prod-deps').some((r) => r.args.includes('ldd') && r.args.includes(env.LD_LIBRARY_PATH ?? '?'))).toBe(
      true,
    );
    // The aerospike client's addon links libyaml and zlib (checked by the rehearsal with ldd).
    expect(runs('prod-deps').some((r) => /apt-get install .*libyaml-0-2/.test(r.args))).toBe(true);
  });

  describe.each(apps)('app-%s', (app) => {
    const stage = stageNamed(df, `app-${app}`);
    const schemaDefaults = defaults(app as AppName);
    const runtime = stageNamed(df, 'runtime');
    const workdir = workdirOf(`app-${app}`);

    it('starts the entry point nest build writes', () => {
      const { outDir, entry } = builtEntry(app);
      // The runtime copies the app's outDir from the build stage into ./dist.
      const distCopy = copies('runtime').find((c) => c.flags.from?.[0] === 'build');
      expect(distCopy).toBeDefined();
      const [source] = copySources(distCopy as Instruction, { APP: app });
      expect(source).toBe(posix.join(workdirOf('build'), outDir));
      const dest = copyDest(distCopy as Instruction, { APP: app });
      const cmd = stage.instructions.find((i) => i.keyword === 'CMD')?.exec;
      expect(cmd).toEqual([posix.join(dest, entry)]);
    });

    it('exposes the default PORT of its config', () => {
      const exposed = stage.instructions
        .filter((i) => i.keyword === 'EXPOSE')
        .flatMap((i) => words(i.args))
        .map((p) => Number(p));
      expect(exposed).toEqual([schemaDefaults.PORT]);
    });

    it('carries the files its config defaults point at (paths relative to WORKDIR)', () => {
      const files = Object.entries(schemaDefaults)
        .filter(
          ([, v]) =>
            typeof v === 'string' &&
            /^[\w.-]+(\/[\w.-]+)+$/.test(v) &&
            existsSync(join(ROOT, v)) &&
            statSync(join(ROOT, v)).isFile(),
        )
        .map(([, v]) => v as string);
      const inImage = lineage({ stage, from: 'runtime', parent: { stage: runtime, from: '' } })
        .filter((i) => i.keyword === 'COPY')
        .map((c) => posix.resolve(workdir, copyDest(c, { APP: app })));
      for (const f of files) expect(inImage).toContain(posix.join(workdir, f));
    });
  });
});

/** WORKDIR in effect at the end of a stage, following the stages it starts FROM. */
function workdirOf(name: string): string {
  const stage = stageNamed(df, name);
  const own = stage.instructions.filter((i) => i.keyword === 'WORKDIR').map((i) => i.args);
  if (own.length > 0) return own[own.length - 1];
  return df.stages.some((s) => s.name === stage.from) ? workdirOf(stage.from) : '/';
}
