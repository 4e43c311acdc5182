import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { z } from 'zod';
import {
  aggProducerConfigSchema,
  gatewayConfigSchema,
  pipelineConfigSchema,
  rawProducerConfigSchema,
} from '@lib/config';

/** What the docker checks read from the repository itself: apps, their config, routes, build layout. */

export const ROOT = resolve(__dirname, '..', '..', '..');
export const DOCKER = join(ROOT, 'docker');

export const APP_SCHEMAS = {
  gateway: gatewayConfigSchema,
  pipeline: pipelineConfigSchema,
  'raw-producer': rawProducerConfigSchema,
  'agg-producer': aggProducerConfigSchema,
} as const;

export type AppName = keyof typeof APP_SCHEMAS;

interface NestProject {
  readonly type: string;
  readonly root: string;
  readonly entryFile: string;
  readonly sourceRoot: string;
  readonly compilerOptions?: { readonly tsConfigPath?: string };
}

export function nestProjects(): Record<string, NestProject> {
  return (JSON.parse(readFileSync(join(ROOT, 'nest-cli.json'), 'utf8')) as { projects: Record<string, NestProject> })
    .projects;
}

/**
 * The apps of the cluster, one image and one service each. apps/embedded is not one of them: it
 * runs those four in one process, with no servers, and has no image.
 */
export const CLUSTER_APPS = Object.keys(APP_SCHEMAS) as AppName[];
export const NOT_IN_CLUSTER = ['embedded'];

/** The applications of nest-cli.json. */
export function nestApps(): string[] {
  return Object.entries(nestProjects())
    .filter(([, p]) => p.type === 'application')
    .map(([name]) => name);
}

/** tsconfig files are JSON with comments allowed; ours have none, but trailing commas would break JSON.parse. */
function readTsconfig(path: string): { extends?: string; compilerOptions?: { outDir?: string; rootDir?: string } } {
  return JSON.parse(readFileSync(path, 'utf8')) as {
    extends?: string;
    compilerOptions?: { outDir?: string; rootDir?: string };
  };
}

/** A tsconfig and the files it extends, relative to the repository root. */
export function tsconfigChain(tsconfig: string): string[] {
  const config = readTsconfig(join(ROOT, tsconfig));
  const parent = config.extends ? posix.normalize(posix.join(posix.dirname(tsconfig), config.extends)) : undefined;
  return [tsconfig, ...(parent ? tsconfigChain(parent) : [])];
}

/** A compiler option along the `extends` chain, as a path relative to the repository root. */
function compilerPath(tsconfig: string, key: 'outDir' | 'rootDir'): string | undefined {
  const config = readTsconfig(join(ROOT, tsconfig));
  const value = config.compilerOptions?.[key];
  if (value !== undefined) return posix.normalize(posix.join(posix.dirname(tsconfig), value));
  return config.extends ? compilerPath(posix.join(posix.dirname(tsconfig), config.extends), key) : undefined;
}

/**
 * Where `nest build <app>` writes the app's entry, relative to the repository root: tsc keeps the
 * layout of rootDir under outDir, so `dist/apps/gateway` + `apps/gateway/src/main.js`.
 */
export function builtEntry(app: string): { outDir: string; entry: string } {
  const p = nestProjects()[app];
  if (!existsSync(join(ROOT, p.sourceRoot, `${p.entryFile}.ts`)))
    throw new Error(`${app}: no ${p.sourceRoot}/${p.entryFile}.ts`);
  const tsconfig = p.compilerOptions?.tsConfigPath ?? 'tsconfig.json';
  const outDir = compilerPath(tsconfig, 'outDir');
  const rootDir = compilerPath(tsconfig, 'rootDir') ?? '.';
  if (!outDir) throw new Error(`${tsconfig} has no outDir`);
  const source = posix.join(p.sourceRoot, `${p.entryFile}.js`);
  return { outDir, entry: posix.relative(rootDir, source) };
}

export function defaults(app: AppName): Record<string, unknown> {
  const shape = APP_SCHEMAS[app].shape as Record<string, z.ZodType>;
  return Object.fromEntries(
    Object.entries(shape).map(([k, field]) => {
      const r = field.safeParse(undefined);
      return [k, r.success ? r.data : undefined];
    }),
  );
}

function walk(dir: string, match: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return walk(path, match);
    return match.test(e.name) ? [path] : [];
  });
}

/** Routes of Nest controllers under `dir`: `@Controller('health')` + `@Get('live')` → GET /health/live. */
export function controllerRoutes(dir: string): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  for (const file of walk(join(ROOT, dir), /\.controller\.ts$/)) {
    const text = readFileSync(file, 'utf8');
    const prefix = /@Controller\(\s*(?:'([^']*)')?\s*\)/.exec(text)?.[1] ?? '';
    for (const m of text.matchAll(/@(Get|Post|Put|Patch|Delete)\(\s*(?:'([^']*)')?\s*\)/g)) {
      const path = `/${[prefix, m[2] ?? ''].filter((s) => s !== '').join('/')}`;
      routes.push({ method: m[1].toUpperCase(), path });
    }
  }
  return routes;
}

/** The path PlatformModule serves Prometheus metrics on (its PrometheusModule.register options). */
export function metricsPath(): string {
  const text = readFileSync(join(ROOT, 'libs/platform/src/platform.module.ts'), 'utf8');
  const m = /PrometheusModule\.register\(\{[^}]*path:\s*'([^']+)'/.exec(text);
  if (!m) throw new Error('PrometheusModule.register({ path }) not found in libs/platform/src/platform.module.ts');
  return m[1];
}
