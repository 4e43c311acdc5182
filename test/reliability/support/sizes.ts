/**
 * Sizes of the reliability suites. CI (plain `jest`) runs the small ones, each suite in about three
 * minutes at most on a 2-core machine; `npm run reliability:<suite>` sets RELIABILITY_FULL=1 for the
 * larger ones. Any single size can be set with its own variable, e.g. RELIABILITY_CRASH_SECONDS=300.
 */
export const FULL = process.env.RELIABILITY_FULL === '1';

/** `RELIABILITY_<NAME>` when set (a number), else the full or the CI value. */
export function size(name: string, ci: number, full: number): number {
  const raw = process.env[`RELIABILITY_${name}`];
  if (raw !== undefined && raw.trim() !== '') {
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0) throw new Error(`RELIABILITY_${name} must be a non-negative number, got ${raw}`);
    return v;
  }
  return FULL ? full : ci;
}

/** The seed of a suite's random choices (kill moments, generated requests): RELIABILITY_SEED, else `fallback`. */
export function seed(fallback: number): number {
  const raw = process.env.RELIABILITY_SEED;
  return raw === undefined || raw.trim() === '' ? fallback : Number(raw);
}
