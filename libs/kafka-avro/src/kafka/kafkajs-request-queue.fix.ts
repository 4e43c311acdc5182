import { createRequire } from 'node:module';

/**
 * kafkajs 2.2.4 (its last release) keeps a 1 ms timer loop running on every broker connection once the
 * connection has had a response: `RequestQueue.scheduleCheckPendingRequests` computes
 * `throttledUntil - Date.now()` (-1 - now when never throttled) and, with nothing pending, schedules the next
 * check with that negative delay, which Node runs after 1 ms; that check schedules the next one, forever
 * (kafkajs issues 1556, 1704, 1751; Node 24 prints it as TimeoutNegativeWarning). Each process with a few
 * connections then wakes thousands of times a second for nothing.
 *
 * Replaced here with what the method means to do: check again when requests wait (after the throttle ends,
 * or in CHECK_PENDING_REQUESTS_INTERVAL), or when a throttle with nothing pending ends; nothing otherwise (a
 * request pushed later, or a response, checks the queue itself). Applied once, before any client is made,
 * and only to the method as shipped in 2.2.4: a kafkajs that changed it is left alone.
 */

/** kafkajs' own interval for a queue with requests waiting. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** What identifies the shipped method: its negative delay with nothing pending. */
const SHIPPED = /let scheduleAt = this\.throttledUntil - Date\.now\(\)[\s\S]*if \(this\.pending\.length > 0\) \{/;

let applied: boolean | undefined;

/** The fixed method, on any object shaped like kafkajs' RequestQueue (exported for its unit test). */
export function scheduleCheckPendingRequests(this: RequestQueueLike): void {
  if (this.throttleCheckTimeoutId !== null && this.throttleCheckTimeoutId !== undefined) return;
  const untilUnthrottled = this.throttledUntil - Date.now();
  let delay: number;
  if (this.pending.length > 0) delay = untilUnthrottled > 0 ? untilUnthrottled : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  else if (untilUnthrottled > 0) delay = untilUnthrottled;
  else return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

/** Installs the fix on kafkajs' RequestQueue; true when it is in place (now or before). */
export function fixKafkajsRequestQueue(): boolean {
  if (applied !== undefined) return applied;
  const load = createRequire(require.resolve('kafkajs'));
  const proto = (load('./src/network/requestQueue') as { prototype: RequestQueueLike }).prototype;
  applied = SHIPPED.test(proto.scheduleCheckPendingRequests.toString());
  if (applied) proto.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  return applied;
}
