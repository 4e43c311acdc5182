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

export interface BackoffOptions {
  /** Bound of the first delay. */
  readonly firstMs: number;
  /** No delay is longer. */
  readonly maxMs: number;
  /**
   * Full jitter (a uniform delay below the bound; see fullJitterDelay) for clients that may retry in
   * step against a shared server; off: exactly the bound (firstMs, 2 firstMs, ... maxMs).
   */
  readonly jitter?: boolean;
  readonly random?: () => number;
}

/**
 * The delays between the attempts of one retry loop: the one helper every loop of the product uses
 * (reconnects, batch retries, restarts, publish retries), so they all grow and cap alike.
 *
 *   const backoff = new Backoff({ firstMs: 100, maxMs: 10_000 });
 *   for (;;) { try { return await work(); } catch { await sleep(backoff.next()); } }
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** The delay before the next attempt; each call moves one step up. */
  next(): number {
    const { firstMs, maxMs, jitter, random } = this.opts;
    const delay =
      jitter === true
        ? fullJitterDelay(this.attempt, firstMs, maxMs, random)
        : exponentialBound(this.attempt, firstMs, maxMs);
    this.attempt += 1;
    return delay;
  }

  /** Attempts so far (calls of next since the start or the last reset). */
  get attempts(): number {
    return this.attempt;
  }

  /** After a success: the next failure starts from the first delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
