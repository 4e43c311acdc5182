import { z } from 'zod';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigProblem {
  variable: string;
  got: string | undefined;
  expects: string;
}

/** Every problem of one environment, in one error. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';

  constructor(
    readonly app: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(formatProblems(app, problems));
    this.name = 'ConfigError';
  }
}

function formatProblems(app: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map(
    (p) => `  - ${p.variable}: got ${p.got === undefined ? '(unset)' : JSON.stringify(p.got)}, expected ${p.expects}`,
  );
  const n = problems.length;
  return `Invalid configuration for ${app} (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

type Shape = Record<string, z.ZodType>;

function isSecret(schema: z.ZodType): boolean {
  const meta = schema.meta() as { secret?: boolean } | undefined;
  return meta?.secret === true;
}

/**
 * Validates `env` against a flat schema keyed by variable name and returns the typed values.
 * Unknown variables are ignored. Cross-field rules (`superRefine` on the object) report under the
 * variable named in the issue's path. Secrets are never echoed back.
 */
export function loadConfig<S extends z.ZodObject<Shape>>(app: string, schema: S, env: Env): z.infer<S> {
  const shape = schema.shape as Shape;
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) input[key] = env[key];

  const result = schema.safeParse(input);
  if (result.success) return result.data;

  const seen = new Set<string>();
  const problems: ConfigProblem[] = [];
  for (const issue of result.error.issues) {
    const variable = String(issue.path[0] ?? '(config)');
    if (seen.has(variable)) continue;
    seen.add(variable);
    const field = shape[variable];
    const got = env[variable];
    // A value its own field rejects is explained by the field's description; a value rejected only
    // by a cross-field rule of the object is explained by that rule's message.
    const fieldRejects = field !== undefined && !field.safeParse(got).success;
    const expects = fieldRejects ? (field.description ?? issue.message) : issue.message;
    problems.push({ variable, got: field && isSecret(field) && got !== undefined ? '***' : got, expects });
  }
  throw new ConfigError(app, problems);
}

/**
 * Loads the config at process start. On failure prints the one message listing every bad variable
 * and exits with status 78 (EX_CONFIG), before any server or client is created.
 */
export function bootConfig<S extends z.ZodObject<Shape>>(
  app: string,
  schema: S,
  env: Env = process.env,
  exit: (code: number) => never = (code) => process.exit(code),
): z.infer<S> {
  try {
    return loadConfig(app, schema, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return exit(78);
    }
    throw err;
  }
}

/** Name, expectation, default and secrecy of each variable of a schema, for docs and checks. */
export interface VariableDoc {
  variable: string;
  /** What the variable is for (from `doc()`), or '' when undocumented. */
  doc: string;
  expects: string;
  defaultValue: unknown;
  secret: boolean;
}

export function describeSchema(schema: z.ZodObject<Shape>): VariableDoc[] {
  const shape = schema.shape as Shape;
  return Object.entries(shape).map(([variable, field]) => {
    const parsed = field.safeParse(undefined);
    const meta = (field.meta() ?? {}) as { doc?: string };
    return {
      variable,
      doc: meta.doc ?? '',
      expects: field.description ?? '',
      defaultValue: parsed.success ? parsed.data : undefined,
      secret: isSecret(field),
    };
  });
}
