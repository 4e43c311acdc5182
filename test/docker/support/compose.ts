import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/**
 * Compose files as Docker reads them: YAML with merge keys (`<<: *anchor`), then interpolation of
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}` and `$$` in
 * every string, from the given environment (what the shell running `docker compose` or
 * `docker stack deploy` would have). A required variable that is missing fails, as in Docker.
 */

export interface HealthCheck {
  readonly test: readonly string[] | string;
  readonly interval?: string;
  readonly timeout?: string;
  readonly retries?: number;
  readonly start_period?: string;
}

export interface Service {
  readonly image?: string;
  readonly build?: { readonly context: string; readonly dockerfile?: string; readonly args?: Record<string, string> };
  readonly command?: readonly string[] | string;
  readonly environment?: Record<string, string | number | boolean | null>;
  readonly ports?: readonly (
    string | { target: number; published?: number | string; mode?: string; protocol?: string }
  )[];
  readonly volumes?: readonly (string | { type: string; source?: string; target: string })[];
  readonly configs?: readonly { source: string; target: string }[];
  readonly networks?: readonly string[] | Record<string, unknown>;
  readonly healthcheck?: HealthCheck;
  readonly depends_on?: Record<string, { condition?: string }> | readonly string[];
  readonly stop_grace_period?: string;
  readonly deploy?: {
    readonly replicas?: number;
    readonly endpoint_mode?: string;
    readonly placement?: { readonly constraints?: readonly string[] };
    readonly update_config?: Record<string, unknown>;
    readonly restart_policy?: Record<string, unknown>;
  };
  readonly [key: string]: unknown;
}

export interface ComposeFile {
  readonly name?: string;
  readonly services: Record<string, Service>;
  readonly configs?: Record<string, { file?: string; external?: boolean }>;
  readonly volumes?: Record<string, unknown>;
  readonly networks?: Record<
    string,
    { name?: string; external?: boolean; driver?: string; attachable?: boolean } | null
  >;
}

export function interpolate(text: string, env: Readonly<Record<string, string | undefined>>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced: string | undefined, op: string | undefined, word: string | undefined, bare: string | undefined) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare) as string;
      const value = env[name];
      const unset = value === undefined;
      const empty = unset || value === '';
      switch (op) {
        case undefined:
          return value ?? '';
        case ':-':
          return empty ? interpolate(word ?? '', env) : (value as string);
        case '-':
          return unset ? interpolate(word ?? '', env) : (value as string);
        case ':?':
        case '?':
          if (op === ':?' ? empty : unset) throw new Error(`required variable ${name} is missing: ${word ?? ''}`);
          return value as string;
        case ':+':
          return empty ? '' : interpolate(word ?? '', env);
        case '+':
          return unset ? '' : interpolate(word ?? '', env);
        default:
          throw new Error(`unsupported interpolation ${whole}`);
      }
    },
  );
}

function interpolateAll(value: unknown, env: Readonly<Record<string, string | undefined>>): unknown {
  if (typeof value === 'string') return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, env));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env)]));
  }
  return value;
}

/** The file as written (merge keys applied, no interpolation), and as Docker would see it with `env`. */
export function loadCompose(
  path: string,
  env: Readonly<Record<string, string | undefined>>,
): { raw: ComposeFile; resolved: ComposeFile } {
  const raw = parse(readFileSync(path, 'utf8'), { merge: true }) as ComposeFile;
  const withoutExtensions = Object.fromEntries(
    Object.entries(raw).filter(([k]) => !k.startsWith('x-')),
  ) as unknown as ComposeFile;
  return { raw: withoutExtensions, resolved: interpolateAll(withoutExtensions, env) as ComposeFile };
}

/** The service's environment as strings (compose accepts numbers and booleans in the map form). */
export function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) throw new Error('use the map form of environment');
  return Object.fromEntries(
    Object.entries(env)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
}

/** Durations as compose writes them (1m30s, 15s, 500ms) in milliseconds. */
export function durationMs(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const unit = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, ns: 0.000001 }[m[2] as 'h'];
    total += Number(m[1]) * unit;
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new Error(`not a duration: ${text}`);
  return total;
}

/** Published and target ports of a service, from the short ("127.0.0.1:8080:8080") or long syntax. */
export function portsOf(service: Service): { published?: number; target: number; mode?: string }[] {
  return (service.ports ?? []).map((p) => {
    if (typeof p === 'object')
      return { published: p.published === undefined ? undefined : Number(p.published), target: p.target, mode: p.mode };
    const parts = String(p).split('/')[0].split(':');
    const target = Number(parts[parts.length - 1]);
    const published = parts.length >= 2 ? Number(parts[parts.length - 2]) : undefined;
    return { published, target };
  });
}
