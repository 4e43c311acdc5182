/**
 * Replays docker/Dockerfile on this machine, where no Docker engine runs, then starts the image it
 * would produce and runs the compose health check against it:
 *
 *   npx tsx test/docker/rehearse-build.ts [--keep] [--no-run] [app ...]     (root, Linux; default: every app)
 *
 * Build: the context is what .dockerignore lets through; each stage gets its own root directory;
 * COPY, WORKDIR, ENV and ARG act on it; RUN executes the instruction's own text with /bin/sh in a
 * chroot of that root, inside a private mount namespace where the host's /usr and /etc stand in for
 * the base image (read-only; this Debian 12 with its /usr/bin/node is what node:24-bookworm-slim is, when
 * that node is 24 (the aerospike addon is kept for the build stages' ABI), with more
 * packages: a RUN needing a tool slim lacks would pass here and fail there) and each
 * `--mount=type=cache` is a directory kept between runs. Stages whose instructions and parents are
 * the same are built once, as BuildKit's cache would. A RUN that installs Debian packages is not run:
 * the packages it names must be installed here instead.
 *
 * Run: the final stage's root plus the files of the Debian packages distroless nodejs24-debian12
 * consists of (libc6, libssl3, libstdc++6, libgcc-s1, libgomp1, CA certificates, tzdata, netbase)
 * and this machine's node at /nodejs/bin/node, as user 65532. No libyaml or zlib there: an addon
 * that needs a library the image does not carry fails to load, as it would in the image. The app
 * gets its compose.yaml environment, except that Kafka and PostgreSQL are real servers started here
 * (scripts/servers), profiles use PostgreSQL (no Aerospike server here) and PORT is a free port.
 *
 * Not reproduced: the base images' exact contents and versions, --chown, the image config's
 * effect on a real container runtime, and the network of compose.
 */
import { spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { parse } from 'yaml';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { PostgresServer } from '../../scripts/servers/postgres-server';
import { freePort, sleep } from '../../scripts/servers/process-utils';
import { DockerIgnore } from './support/dockerignore';
import {
  Instruction,
  keyValues,
  readDockerfile,
  ResolvedStage,
  stagesFor,
  substitute,
  words,
} from './support/dockerfile';

const ROOT = resolve(__dirname, '..', '..');
const DOCKERFILE = join(ROOT, 'docker', 'Dockerfile');
const CACHE = join(homedir(), '.cache', 'streaming-analytics', 'docker-rehearsal');
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** What gcr.io/distroless/nodejs24-debian12 is made of, besides node (GoogleContainerTools/distroless: base, cc). */
const DISTROLESS_PACKAGES = [
  'libc6',
  'libssl3',
  'libstdc++6',
  'libgcc-s1',
  'libgomp1',
  'gcc-12-base',
  'tzdata',
  'netbase',
];

interface StageState {
  readonly root: string;
  workdir: string;
  env: Record<string, string>;
  user?: string;
  cmd?: readonly string[];
  entrypoint?: readonly string[];
  readonly kind: 'host' | 'distroless';
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

function sh(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(args[0], args.slice(1), { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...opts });
}

function must(result: SpawnSyncReturns<string>, what: string): string {
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

function baseRoot(root: string, kind: 'host' | 'distroless'): void {
  mkdirSync(root, { recursive: true });
  for (const dir of ['usr', 'etc', 'dev', 'proc', 'root', 'tmp']) mkdirSync(join(root, dir), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
  // Debian 12 is usr-merged, and so are both base images.
  for (const link of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(`usr/${link}`, join(root, link));
  if (kind === 'distroless') distrolessFiles(root);
}

function distrolessFiles(root: string): void {
  const files = must(sh(['dpkg', '-L', ...DISTROLESS_PACKAGES]), 'dpkg -L')
    .split('\n')
    .filter((f) => f.startsWith('/') && !f.startsWith('/usr/share/doc') && !f.startsWith('/usr/share/man'));
  for (const file of files) {
    const real = file.replace(/^\/(bin|lib|lib64|sbin)\//, '/usr/$1/');
    const target = join(root, real);
    const r = sh(['test', '-f', file]);
    if (r.status !== 0) continue;
    mkdirSync(dirname(target), { recursive: true });
    cpSync(file, target, { dereference: false, verbatimSymlinks: true });
  }
  cpSync('/etc/ssl/certs', join(root, 'etc/ssl/certs'), { recursive: true, dereference: true });
  mkdirSync(join(root, 'nodejs/bin'), { recursive: true });
  copyFileSync(process.execPath, join(root, 'nodejs/bin/node'));
  chmodSync(join(root, 'nodejs/bin/node'), 0o755);
  mkdirSync(join(root, 'home/nonroot'), { recursive: true });
  sh(['chown', '65532:65532', join(root, 'home/nonroot')]);
  const passwd = 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n';
  const group = 'root:x:0:\nnonroot:x:65532:\n';
  writeFileSync(join(root, 'etc/passwd'), passwd);
  writeFileSync(join(root, 'etc/group'), group);
}

/**
 * A script for the host's sh (run in a private mount namespace, so its mounts vanish with it) that
 * execs `argv` chrooted in the stage's root: for a host-based stage with the host's /usr and /etc
 * read-only, /dev and /proc, plus the cache mounts; for a distroless root only /dev and /proc (its
 * /usr is its own).
 */
function chrooted(
  state: StageState,
  argv: readonly string[],
  opts: { env: Record<string, string>; caches?: { target: string; source: string }[] },
): { script: string; env: NodeJS.ProcessEnv } {
  const r = state.root;
  const lines = ['set -e'];
  if (state.kind === 'host') {
    for (const dir of ['usr', 'etc']) {
      lines.push(`mount --bind /${dir} "${r}/${dir}"`, `mount -o remount,bind,ro "${r}/${dir}"`);
    }
  }
  lines.push(`mount --rbind /dev "${r}/dev"`, `mount --rbind /proc "${r}/proc"`);
  for (const c of opts.caches ?? []) {
    mkdirSync(c.source, { recursive: true });
    mkdirSync(join(r, c.target), { recursive: true });
    lines.push(`mount --bind "${c.source}" "${r}${c.target}"`);
  }
  // The command and the environment travel in variables of the script's own environment: no quoting.
  lines.push(
    `exec chroot "${r}" /usr/bin/env -i ${Object.keys(opts.env)
      .map((k) => `${k}="$__ENV_${k}"`)
      .join(' ')} ${argv.map((_, i) => `"$__ARG_${i}"`).join(' ')}`,
  );
  const env: NodeJS.ProcessEnv = { PATH: DEFAULT_PATH };
  for (const [k, v] of Object.entries(opts.env)) env[`__ENV_${k}`] = v;
  argv.forEach((a, i) => (env[`__ARG_${i}`] = a));
  return { script: lines.join('\n'), env };
}

function runInStage(
  state: StageState,
  command: string,
  caches: { target: string; source: string }[],
  args: Record<string, string | undefined>,
): void {
  // The stage's ARGs are in RUN's environment (not in the image's), under its ENV.
  const declared = Object.fromEntries(Object.entries(args).filter((e): e is [string, string] => e[1] !== undefined));
  const env = { PATH: DEFAULT_PATH, HOME: '/root', ...declared, ...state.env };
  // Docker runs a shell-form RUN as `/bin/sh -c`, in WORKDIR.
  const argv = ['/bin/sh', '-c', `cd "${state.workdir}" && ${command}`];
  const { script, env: spawnEnv } = chrooted(state, argv, { env, caches });
  const result = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script], {
    env: spawnEnv,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`RUN ${command}\nexit ${result.status ?? result.signal}`);
}

function copyInto(src: string, dest: string, multiple: boolean, destIsDir: boolean): void {
  const isDir = sh(['test', '-d', src]).status === 0;
  if (isDir) {
    // COPY of a directory copies its contents.
    mkdirSync(dest, { recursive: true });
    cpSync(src, dest, { recursive: true, verbatimSymlinks: true });
  } else {
    const target = multiple || destIsDir ? join(dest, posix.basename(src)) : dest;
    mkdirSync(dirname(target), { recursive: true });
    cpSync(src, target, { verbatimSymlinks: true });
  }
}

interface Built {
  state: StageState;
  key: string;
}

class Rehearsal {
  private readonly built = new Map<string, Built>();
  private readonly work: string;
  readonly context: string;

  constructor(keep: boolean) {
    this.work = mkdtempSync(join(tmpdir(), 'docker-rehearsal-'));
    this.context = join(this.work, 'context');
    if (!keep) process.on('exit', () => rmSync(this.work, { recursive: true, force: true }));
    log(`work directory ${this.work}${keep ? ' (kept)' : ''}`);
  }

  prepareContext(): void {
    const files = DockerIgnore.read(ROOT).contextFiles(ROOT);
    for (const f of files) {
      mkdirSync(dirname(join(this.context, f)), { recursive: true });
      copyFileSync(join(ROOT, f), join(this.context, f));
    }
    log(`context: ${files.length} files (${files.filter((f) => !f.includes('/')).join(', ')}, apps/, libs/)`);
  }

  build(app: string): StageState {
    const df = readDockerfile(DOCKERFILE);
    const order = stagesFor(df, { APP: app });
    const states = new Map<ResolvedStage, Built>();
    const globals: Record<string, string> = {};
    for (const ins of df.globalArgs) for (const [k, v] of keyValues(ins)) globals[k] = k === 'APP' ? app : (v ?? '');
    for (const r of order) states.set(r, this.buildStage(r, states, globals, app));
    return (states.get(order[order.length - 1]) as Built).state;
  }

  private buildStage(
    r: ResolvedStage,
    done: Map<ResolvedStage, Built>,
    globals: Record<string, string>,
    app: string,
  ): Built {
    const parent = r.parent ? done.get(r.parent) : undefined;
    const name = r.stage.name ?? `#${r.stage.index}`;
    // The cache key: the parent, the FROM, and every instruction after substitution of the values it sees.
    const args: Record<string, string | undefined> = {};
    const text: string[] = [parent?.key ?? r.from];
    for (const ins of r.stage.instructions) {
      if (ins.keyword === 'ARG') for (const [k, v] of keyValues(ins)) args[k] = k === 'APP' ? app : (globals[k] ?? v);
      text.push(`${ins.keyword} ${JSON.stringify(ins.flags)} ${substitute(ins.args, args)}`);
    }
    const key = createHash('sha256').update(text.join('\n')).digest('hex').slice(0, 16);
    const cached = this.built.get(key);
    if (cached) {
      log(`[${app}] stage ${name}: cached`);
      return cached;
    }
    log(`[${app}] stage ${name}: FROM ${r.from}`);
    const root = join(this.work, 'stages', `${name}-${key}`);
    let state: StageState;
    if (parent) {
      cpSync(parent.state.root, root, { recursive: true, verbatimSymlinks: true });
      state = { ...parent.state, root, env: { ...parent.state.env }, kind: parent.state.kind };
    } else {
      const kind = /distroless/.test(r.from) ? 'distroless' : 'host';
      baseRoot(root, kind);
      checkBaseImage(r.from);
      // node:24-bookworm-slim's own ENV; distroless sets only PATH and SSL_CERT_FILE.
      state = { root, workdir: '/', env: kind === 'host' ? { PATH: DEFAULT_PATH } : {}, kind };
    }
    const vars: Record<string, string | undefined> = {};
    for (const ins of r.stage.instructions) this.apply(ins, state, vars, done, globals, app);
    const built = { state, key };
    this.built.set(key, built);
    return built;
  }

  private apply(
    ins: Instruction,
    state: StageState,
    vars: Record<string, string | undefined>,
    done: Map<ResolvedStage, Built>,
    globals: Record<string, string>,
    app: string,
  ): void {
    const seen = { ...vars, ...state.env };
    switch (ins.keyword) {
      case 'ARG':
        for (const [k, v] of keyValues(ins)) vars[k] = k === 'APP' ? app : (globals[k] ?? v);
        return;
      case 'ENV':
        for (const [k, v] of keyValues(ins)) state.env[k] = substitute(v ?? '', seen);
        return;
      case 'WORKDIR':
        state.workdir = posix.resolve(state.workdir, substitute(ins.args, seen));
        mkdirSync(join(state.root, state.workdir), { recursive: true });
        return;
      case 'COPY': {
        const parts = (ins.exec ?? words(ins.args)).map((w) => substitute(w, seen));
        const dest = posix.resolve(state.workdir, parts[parts.length - 1]);
        const sources = parts.slice(0, -1);
        const from = ins.flags.from?.[0];
        const fromRoot = from
          ? [...done.entries()].find(([r]) => r.stage.name === from.toLowerCase())?.[1].state.root
          : this.context;
        if (fromRoot === undefined) throw new Error(`line ${ins.line}: COPY --from=${from}: stage not built`);
        for (const s of sources) {
          const src = join(fromRoot, from ? s : posix.normalize(s));
          if (!existsSync(src)) throw new Error(`line ${ins.line}: COPY ${s}: not found in ${from ?? 'the context'}`);
          copyInto(src, join(state.root, dest), sources.length > 1, parts[parts.length - 1].endsWith('/'));
        }
        log(`  COPY ${from ? `--from=${from} ` : ''}${sources.join(' ')} -> ${dest}`);
        return;
      }
      case 'RUN': {
        const command = ins.exec ? ins.exec.join(' ') : ins.args;
        const packages = /apt-get install\s+([^&;|]*)/.exec(command);
        if (packages) {
          const names = packages[1].split(/\s+/).filter((w) => w && !w.startsWith('-'));
          must(sh(['dpkg', '-s', ...names]), `the packages this RUN installs (${names.join(' ')}) on this machine`);
          log(`  RUN (skipped: installs ${names.join(' ')}, which this machine has)`);
          return;
        }
        const caches = (ins.flags.mount ?? [])
          .map((m) => Object.fromEntries(m.split(',').map((kv) => kv.split('=') as [string, string])))
          .filter((m) => m.type === 'cache')
          .map((m) => ({ target: m.target, source: join(CACHE, m.target.replace(/\//g, '_')) }));
        log(`  RUN ${command.replace(/\s+/g, ' ').slice(0, 110)}`);
        runInStage(state, command, caches, vars);
        return;
      }
      case 'USER':
        state.user = substitute(ins.args, seen);
        return;
      case 'CMD':
        state.cmd = ins.exec ?? ['/bin/sh', '-c', ins.args];
        return;
      case 'ENTRYPOINT':
        state.entrypoint = ins.exec ?? ['/bin/sh', '-c', ins.args];
        return;
      case 'EXPOSE':
      case 'LABEL':
      case 'STOPSIGNAL':
      case 'HEALTHCHECK':
        return;
      default:
        throw new Error(`line ${ins.line}: ${ins.keyword} is not rehearsed`);
    }
  }
}

/** The base images are stood in for by this machine: say where that is not what the tag promises. */
function checkBaseImage(image: string): void {
  const node = /node(?:js)?:?(\d+)/.exec(image)?.[1];
  const here = process.versions.node.split('.')[0];
  if (node !== undefined && node !== here) throw new Error(`${image} is Node ${node}; this machine runs Node ${here}`);
  const debian = /bookworm|debian12/.test(image) ? '12' : undefined;
  const release = readFileSync('/etc/debian_version', 'utf8').trim().split('.')[0];
  if (debian !== undefined && debian !== release)
    throw new Error(`${image} is Debian ${debian}; this is Debian ${release}`);
}

interface ComposeService {
  environment?: Record<string, string | number>;
  healthcheck?: { test: string[] };
}

function composeService(app: string): ComposeService {
  const doc = parse(readFileSync(join(ROOT, 'docker', 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  return doc.services[app];
}

async function run(
  app: string,
  image: StageState,
  servers: { kafka: KafkaServer; postgres: PostgresServer },
): Promise<void> {
  const service = composeService(app);
  const composeEnv = Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([k, v]) => [k, substitute(String(v), {})]),
  );
  const composePort = composeEnv.PORT;
  const port = String(await freePort());
  const env: Record<string, string> = {
    ...image.env,
    ...composeEnv,
    KAFKA_BROKERS: servers.kafka.brokers.join(','),
    PORT: port,
  };
  if ('DATABASE_URL' in env) env.DATABASE_URL = servers.postgres.url;
  if (env.PROFILE_STORE === 'aerospike') {
    env.PROFILE_STORE = 'postgres';
    delete env.AEROSPIKE_HOSTS;
  }
  const argv = [...(image.entrypoint ?? ['/nodejs/bin/node']), ...(image.cmd ?? [])];
  log(`[${app}] run as ${image.user ?? 'root'}: ${argv.join(' ')} (cwd ${image.workdir}, PORT ${port})`);
  const child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', inImage(image, argv, env)],
    {
      env: { PATH: DEFAULT_PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));

  const health = (service.healthcheck?.test ?? []).slice(1).map((a) => a.replace(`:${composePort}/`, `:${port}/`));
  const deadline = Date.now() + 90_000;
  let healthy = false;
  while (!healthy && Date.now() < deadline && child.exitCode === null) {
    await sleep(1_000);
    const probe = spawnSync(
      'unshare',
      ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', inImage(image, health, env)],
      {
        env: { PATH: DEFAULT_PATH },
        encoding: 'utf8',
        timeout: 10_000,
      },
    );
    healthy = probe.status === 0;
  }
  child.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout' as const)]);
  if (!healthy) throw new Error(`[${app}] the compose health check never passed:\n${output.slice(-4_000)}`);
  log(`[${app}] health check (${health[0]} -e fetch .../health/ready) passed; SIGTERM -> exit ${code}`);
  if (code !== 0) throw new Error(`[${app}] did not stop cleanly on SIGTERM (${code}):\n${output.slice(-4_000)}`);
}

/**
 * A script for the host's sh, in a private mount namespace, that runs `argv` in the image's root as
 * a container would: its user, its WORKDIR, only the given environment. The image has no shell or
 * env(1), and chroot(1) cannot change directory: a one-line node launcher (the image's own node)
 * does that and hands signals and the exit code through.
 */
function inImage(image: StageState, argv: readonly string[], env: Record<string, string>): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const r = image.root;
  const launcher =
    `process.chdir(${JSON.stringify(image.workdir)}); const [cmd, ...args] = ${JSON.stringify(argv)}; ` +
    `const c = require('child_process').spawn(cmd, args, { stdio: 'inherit' }); ` +
    `for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => c.kill(s)); ` +
    `c.on('exit', (code, sig) => process.exit(code ?? (sig ? 128 : 1)));`;
  return [
    'set -e',
    `mount --rbind /dev ${q(`${r}/dev`)}`,
    `mount --rbind /proc ${q(`${r}/proc`)}`,
    `exec /usr/bin/env -i ${Object.entries(env)
      .map(([k, v]) => q(`${k}=${v}`))
      .join(
        ' ',
      )} /usr/sbin/chroot ${image.user ? `--userspec=${image.user}` : ''} ${q(r)} /nodejs/bin/node -e ${q(launcher)}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const keep = argv.includes('--keep');
  const runApps = !argv.includes('--no-run');
  // The apps the Dockerfile has a stage for.
  const all = readDockerfile(DOCKERFILE)
    .stages.map((s) => s.name ?? '')
    .filter((n) => n.startsWith('app-'))
    .map((n) => n.slice('app-'.length));
  const apps = argv.filter((a) => !a.startsWith('--'));
  for (const a of apps) if (!all.includes(a)) throw new Error(`unknown app ${a} (apps: ${all.join(', ')})`);
  if (process.getuid?.() !== 0) throw new Error('run as root: the rehearsal uses mount namespaces and chroot');

  const rehearsal = new Rehearsal(keep);
  rehearsal.prepareContext();
  const images = new Map<string, StageState>();
  for (const app of apps.length > 0 ? apps : all) {
    const t0 = Date.now();
    images.set(app, rehearsal.build(app));
    log(`[${app}] built in ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  if (!runApps) return;
  const [kafka, postgres] = await Promise.all([KafkaServer.start(), PostgresServer.start()]);
  try {
    for (const [app, image] of images) await run(app, image, { kafka, postgres });
  } finally {
    await Promise.all([kafka.stop(), postgres.stop()]);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
