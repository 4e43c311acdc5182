/**
 * Exact JSON comparison of an answer with the expected one: key order ignored, everything else exact
 * (types, array order and length, strings compared as strings). Reports the first difference found,
 * with a path a person can follow (`$.views[3].time`).
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Difference {
  path: string;
  expected: Json | undefined;
  actual: Json | undefined;
}

function kind(v: Json | undefined): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}

function key(path: string, k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`;
}

export function firstDifference(
  expected: Json | undefined,
  actual: Json | undefined,
  path = '$',
): Difference | undefined {
  const ke = kind(expected);
  if (ke !== kind(actual)) return { path, expected, actual };
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const n = Math.min(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      const d = firstDifference(expected[i], actual[i], `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    if (expected.length !== actual.length) {
      return { path: `${path}.length`, expected: expected.length, actual: actual.length };
    }
    return undefined;
  }
  if (ke === 'object') {
    const e = expected as { [key: string]: Json };
    const a = actual as { [key: string]: Json };
    for (const k of Object.keys(e).sort()) {
      const d = firstDifference(e[k], Object.hasOwn(a, k) ? a[k] : undefined, key(path, k));
      if (d !== undefined) return d;
    }
    for (const k of Object.keys(a).sort()) {
      if (!Object.hasOwn(e, k)) return { path: key(path, k), expected: undefined, actual: a[k] };
    }
    return undefined;
  }
  return expected === actual ? undefined : { path, expected, actual };
}
