import { Backoff } from '@lib/platform/retry/backoff';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { firstDelayMs: 100, maxDelayMs: 10_000 };

export class Stopped extends Error {
  constructor() {
    super('consumer stopped before the batch succeeded');
    this.name = 'Stopped';
  }
}

/**
 * Runs `attempt` until it succeeds, waiting with exponential backoff between failures: a batch is
 * never skipped. Gives up only when `shouldStop()` (the consumer is stopping or lost the partition),
 * throwing {@link Stopped} so that nothing is committed and the batch is delivered again later.
 */
export async function retryUntilDone<T>(
  attempt: () => Promise<T>,
  opts: RetryOptions & {
    shouldStop: () => boolean;
    onFailure: (err: unknown, attemptNo: number, delayMs: number) => void;
    /** Called while waiting (e.g. a Kafka heartbeat, so the group does not evict this member). */
    whileWaiting?: () => Promise<void>;
  },
): Promise<T> {
  const backoff = new Backoff({ firstMs: opts.firstDelayMs, maxMs: opts.maxDelayMs });
  for (let attemptNo = 1; ; attemptNo++) {
    if (opts.shouldStop()) throw new Stopped();
    let delay: number;
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof Stopped) throw err;
      delay = backoff.next();
      opts.onFailure(err, attemptNo, delay);
    }
    const until = Date.now() + delay;
    while (Date.now() < until && !opts.shouldStop()) {
      await sleep(Math.min(200, until - Date.now()));
      await opts.whileWaiting?.().catch(() => undefined);
    }
  }
}
