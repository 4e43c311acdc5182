import { z } from 'zod';

/**
 * Builders for environment variables. Each returns a zod schema whose description is the
 * human-readable expectation ("an integer from 1 to 65535"), which the loader prints when a
 * value is rejected and which `.env.example` documents.
 *
 * Empty strings count as unset, so `FOO=` in a shell falls back to the default.
 */

const unsetIfEmpty = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export interface IntOptions {
  min?: number;
  max?: number;
}

function describeRange(noun: string, { min, max }: IntOptions): string {
  if (min !== undefined && max !== undefined) return `${noun} from ${min} to ${max}`;
  if (min !== undefined) return `${noun} >= ${min}`;
  if (max !== undefined) return `${noun} <= ${max}`;
  return noun;
}

export function int(defaultValue: number, opts: IntOptions = {}) {
  const expects = describeRange('an integer', opts);
  let base = z.number().int();
  if (opts.min !== undefined) base = base.min(opts.min);
  if (opts.max !== undefined) base = base.max(opts.max);
  return z
    .preprocess((v) => {
      const s = unsetIfEmpty(v);
      if (s === undefined) return undefined;
      return typeof s === 'string' && /^-?\d+$/.test(s.trim()) ? Number(s.trim()) : s;
    }, base.default(defaultValue))
    .describe(expects);
}

export function num(defaultValue: number, opts: IntOptions & { exclusiveMin?: number } = {}) {
  const expects =
    opts.exclusiveMin !== undefined
      ? `a number > ${opts.exclusiveMin}${opts.max !== undefined ? ` and <= ${opts.max}` : ''}`
      : describeRange('a number', opts);
  let base = z.number().finite();
  if (opts.min !== undefined) base = base.min(opts.min);
  if (opts.max !== undefined) base = base.max(opts.max);
  if (opts.exclusiveMin !== undefined) base = base.gt(opts.exclusiveMin);
  return z
    .preprocess((v) => {
      const s = unsetIfEmpty(v);
      if (s === undefined) return undefined;
      const n = typeof s === 'string' ? Number(s.trim()) : s;
      return typeof n === 'number' && Number.isFinite(n) ? n : s;
    }, base.default(defaultValue))
    .describe(expects);
}

export function bool(defaultValue: boolean) {
  return z
    .preprocess((v) => {
      const s = unsetIfEmpty(v);
      if (s === undefined) return undefined;
      if (typeof s !== 'string') return s;
      const t = s.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      if (['false', '0', 'no', 'off'].includes(t)) return false;
      return s;
    }, z.boolean().default(defaultValue))
    .describe('true or false');
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) {
  return z
    .preprocess(unsetIfEmpty, z.enum(values).default(defaultValue as never))
    .describe(`one of ${values.join(', ')}`) as unknown as z.ZodType<T[number]>;
}

export function str(defaultValue: string, opts: { pattern?: RegExp; expects?: string } = {}) {
  let base = z.string().min(1);
  if (opts.pattern) base = base.regex(opts.pattern);
  return z.preprocess(unsetIfEmpty, base.default(defaultValue)).describe(opts.expects ?? 'a non-empty string');
}

export function optionalStr(opts: { pattern?: RegExp; expects?: string } = {}) {
  let base = z.string().min(1);
  if (opts.pattern) base = base.regex(opts.pattern);
  return z.preprocess(unsetIfEmpty, base.optional()).describe(opts.expects ?? 'a non-empty string, or unset');
}

export function optionalUrl(protocols: readonly string[]) {
  const expects = `a URL (${protocols.join(', ')}), or unset`;
  return z
    .preprocess(
      unsetIfEmpty,
      z
        .string()
        .refine((s) => {
          try {
            return protocols.includes(new URL(s).protocol.replace(/:$/, ''));
          } catch {
            return false;
          }
        })
        .optional(),
    )
    .describe(expects);
}

const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;

/** A comma-separated list of host:port pairs. */
export function hostPortList(defaultValue: string) {
  return z
    .preprocess(
      (v) => {
        const s = unsetIfEmpty(v);
        if (typeof s !== 'string') return s;
        return s
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x.length > 0);
      },
      z.array(z.string().regex(HOST_PORT)).min(1).default(defaultValue.split(',')),
    )
    .describe('a comma-separated list of host:port');
}

/** A comma-separated list of strings matching `pattern`. */
export function list(defaultValue: readonly string[], opts: { pattern?: RegExp; expects: string }) {
  const item = opts.pattern ? z.string().regex(opts.pattern) : z.string().min(1);
  return z
    .preprocess(
      (v) => {
        const s = unsetIfEmpty(v);
        if (typeof s !== 'string') return s;
        return s
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x.length > 0);
      },
      z
        .array(item)
        .min(1)
        .default([...defaultValue]),
    )
    .describe(opts.expects);
}

/** Marks a variable whose value must never be printed. */
export const secret = <T extends z.ZodType>(schema: T): T =>
  schema.meta({ description: schema.description, secret: true }) as T;

/** Says what a variable is for; `.env.example` prints it above the variable. */
export const doc = <T extends z.ZodType>(text: string, schema: T): T =>
  schema.meta({ ...(schema.meta() ?? {}), doc: text }) as T;
