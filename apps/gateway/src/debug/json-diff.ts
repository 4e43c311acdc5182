export interface JsonDifference {
  /** JSONPath-like location of the first difference, e.g. `$.views[3].time`. */
  path: string;
  expected: unknown;
  actual: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function child(path: string, key: string | number): string {
  return typeof key === 'number'
    ? `${path}[${key}]`
    : /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
      ? `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`;
}

/**
 * First difference between two JSON values, or undefined when they are equal. Object key order is
 * ignored; array order, types and string contents are not (123 differs from "123", and
 * "…00.000Z" from "…00Z").
 */
export function firstDifference(expected: unknown, actual: unknown, path = '$'): JsonDifference | undefined {
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const n = Math.min(expected.length, actual.length);
    for (let i = 0; i < n; i++) {
      const d = firstDifference(expected[i], actual[i], child(path, i));
      if (d) return d;
    }
    if (expected.length !== actual.length) {
      return { path: `${path}.length`, expected: expected.length, actual: actual.length };
    }
    return undefined;
  }
  if (isObject(expected) && isObject(actual)) {
    const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
    for (const k of keys) {
      if (!(k in actual)) return { path: child(path, k), expected: expected[k], actual: undefined };
      if (!(k in expected)) return { path: child(path, k), expected: undefined, actual: actual[k] };
      const d = firstDifference(expected[k], actual[k], child(path, k));
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(expected, actual) ? undefined : { path, expected, actual };
}
