/**
 * Exponential backoff with "full jitter" (AWS Architecture Blog, "Exponential Backoff And Jitter"): the
 * delay before retry `attempt` (0-based) is uniform in [0, min(maxMs, baseMs * 2^attempt)). Spreading the
 * delay over the whole interval keeps many clients that lost the same server from reconnecting in step.
 */
export function fullJitterDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * exponentialBound(attempt, baseMs, maxMs));
}

/** min(maxMs, baseMs * 2^attempt), without overflowing for large attempts. */
export function exponentialBound(attempt: number, baseMs: number, maxMs: number): number {
  if (attempt < 0 || !Number.isInteger(attempt))
    throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  // 2^31 already exceeds any sane cap; capping the exponent keeps the arithmetic exact.
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 31));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true || ms <= 0) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
