import { createRequire } from 'node:module';
import { fixKafkajsRequestQueue, scheduleCheckPendingRequests } from './kafkajs-request-queue.fix';

interface Queue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
}

const RequestQueue = createRequire(require.resolve('kafkajs'))('./src/network/requestQueue') as new (
  opts: object,
) => Queue;
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const newQueue = (): Queue =>
  new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 1_000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: '127.0.0.1:9092',
    logger: silent,
  });

describe("kafkajs' request queue timer", () => {
  it('as shipped, a queue with nothing pending keeps scheduling checks (the 1 ms loop); fixed, it schedules none', () => {
    const before = newQueue();
    before.checkPendingRequests(); // what every response does
    const looping = before.throttleCheckTimeoutId !== null;
    clearTimeout(before.throttleCheckTimeoutId ?? undefined);

    expect(fixKafkajsRequestQueue()).toBe(true);
    expect(fixKafkajsRequestQueue()).toBe(true); // once only, and still in place
    const after = newQueue();
    after.checkPendingRequests();
    expect([looping, after.throttleCheckTimeoutId]).toEqual([true, null]);
  });

  it('still checks again when requests wait, and when a throttle ends', async () => {
    const checks: number[] = [];
    const queue = (pending: unknown[], throttledUntil: number) => {
      const q = {
        pending,
        throttledUntil,
        throttleCheckTimeoutId: null as NodeJS.Timeout | null,
        checkPendingRequests: () => checks.push(Date.now() - start),
        scheduleCheckPendingRequests,
      };
      return q;
    };
    const start = Date.now();
    const waiting = queue(['a request'], -1);
    waiting.scheduleCheckPendingRequests();
    const throttled = queue([], Date.now() + 60);
    throttled.scheduleCheckPendingRequests();
    const idle = queue([], -1);
    idle.scheduleCheckPendingRequests();
    expect(idle.throttleCheckTimeoutId).toBeNull();
    // Scheduled once each: a second call while one is scheduled adds none.
    waiting.scheduleCheckPendingRequests();
    await new Promise((r) => setTimeout(r, 150));
    expect(checks).toHaveLength(2);
    expect(Math.max(...checks)).toBeGreaterThanOrEqual(55); // one at the throttle's end, not before
  });
});
