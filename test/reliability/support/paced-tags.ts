/**
 * A steady stream of distinct user tags POSTed to the gateway at a fixed rate (open loop: a slow answer
 * does not slow the stream down), recording per tag its status and latency, for the outage suites.
 *
 * Tag i has the event time BASE + i * stepMs, unique across the stream, so a tag read back from the topic
 * or the stores says which one it is (tagIndex). Cookies repeat (i mod cookies), so profiles hold several
 * tags each; the other fields cycle through small sets, so the cube has a few cells per minute.
 *
 * PacedTagsThread runs the client in a worker thread: latencies are then measured away from the test's
 * own event loop, which starting servers (and Jest's --detectOpenHandles hooks) can stall for a second.
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { UserTag } from '@lib/domain';

/** 2022-03-22T12:00:00.000Z: event times are fixed, not wall-clock, so runs are reproducible. */
export const BASE_MS = Date.UTC(2022, 2, 22, 12, 0, 0);

export interface TagShape {
  /** Distinct cookies, prefixed: tag i belongs to `${prefix}-${i % cookies}`. */
  prefix: string;
  cookies: number;
  /** Event-time distance between consecutive tags, ms (>= 1). */
  stepMs: number;
}

export function tagAt(i: number, s: TagShape): UserTag {
  return {
    time: new Date(BASE_MS + i * s.stepMs).toISOString(),
    cookie: `${s.prefix}-${i % s.cookies}`,
    country: ['PL', 'DE', 'US'][i % 3] as string,
    device: (['PC', 'MOBILE', 'TV'] as const)[i % 3] as UserTag['device'],
    action: i % 4 === 0 ? 'BUY' : 'VIEW',
    origin: ['US', 'PL'][i % 2] as string,
    product_info: {
      product_id: String(1000 + (i % 50)),
      brand_id: ['Nike', 'Adidas', 'Puma'][i % 3] as string,
      category_id: ['shoes', 'shirts'][i % 2] as string,
      price: 1 + (i % 997),
    },
  };
}

/** Which tag of the stream this is (by its event time), or -1 for a tag of another stream. */
export function tagIndex(tag: UserTag, s: TagShape): number {
  const i = (Date.parse(tag.time) - BASE_MS) / s.stepMs;
  return Number.isInteger(i) && i >= 0 && tag.cookie === `${s.prefix}-${i % s.cookies}` ? i : -1;
}

export interface TagOutcome {
  i: number;
  /** Epoch ms when the request was written, and when its answer (or failure) came. */
  sentAt: number;
  answeredAt: number;
  /** HTTP status; 0 when there was no answer (connection error, or none within the client's timeout). */
  status: number;
  /** The error body's `code`, or the client error. */
  code?: string;
}

export interface PacedTagsOptions {
  /** Gateway base URL. */
  url: string;
  /** Tags per second. */
  rate: number;
  shape: TagShape;
  /** The client gives up on an answer after this (status 0, code 'TIMEOUT'): a hang. */
  timeoutMs: number;
}

export class PacedTags {
  readonly outcomes: TagOutcome[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 512 });
  private readonly inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private startedAt = 0;

  constructor(private readonly o: PacedTagsOptions) {}

  get sent(): number {
    return this.next;
  }

  /** Starts sending; tag count follows wall-clock time (rate × elapsed), ticking every 10 ms. */
  start(): void {
    this.startedAt = Date.now();
    this.timer = setInterval(() => {
      const due = Math.floor(((Date.now() - this.startedAt) * this.o.rate) / 1000);
      while (this.next < due) this.send(this.next++);
    }, 10);
  }

  /** Stops sending and waits for every answer; returns the outcomes ordered by tag. */
  async stop(): Promise<TagOutcome[]> {
    clearInterval(this.timer);
    this.timer = undefined;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    this.agent.destroy();
    return [...this.outcomes].sort((a, b) => a.i - b.i);
  }

  private send(i: number): void {
    const body = Buffer.from(JSON.stringify(tagAt(i, this.o.shape)));
    const sentAt = Date.now();
    const p = new Promise<void>((resolve) => {
      let done = false;
      const finish = (status: number, code?: string) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.outcomes.push({ i, sentAt, answeredAt: Date.now(), status, code });
        resolve();
      };
      const req = request(`${this.o.url}/user_tags`, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      });
      const timer = setTimeout(() => {
        finish(0, 'TIMEOUT');
        req.destroy();
      }, this.o.timeoutMs);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let code: string | undefined;
          if (chunks.length > 0) {
            try {
              code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: string }).code;
            } catch {
              code = 'NOT_JSON';
            }
          }
          finish(res.statusCode ?? 0, code);
        });
        res.on('error', (err) => finish(0, err.message));
      });
      req.on('error', (err) => finish(0, err.message));
      req.end(body);
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}

/** Messages of paced-tags.worker.ts. */
export type WorkerMessage =
  { kind: 'outcomes'; outcomes: TagOutcome[] } | { kind: 'stopped'; sent: number; loopMaxMs: number };

/** PacedTags in a worker thread; `outcomes` fills in as answers come (every 100 ms). */
export class PacedTagsThread {
  readonly outcomes: TagOutcome[] = [];
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private failure: Error | undefined;
  private stopped: (() => void) | undefined;
  /** The thread's largest event-loop delay over the run, ms (known after stop()). */
  loopMaxMs = Number.NaN;

  constructor(o: PacedTagsOptions) {
    this.worker = new Worker(join(__dirname, 'paced-tags.worker.ts'), {
      workerData: o,
      execArgv: ['--require', '@swc-node/register'],
    });
    this.worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'outcomes') this.outcomes.push(...m.outcomes);
      else {
        this.loopMaxMs = m.loopMaxMs;
        this.stopped?.();
      }
    });
    this.worker.on('error', (err) => (this.failure = err));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
  }

  start(): void {
    this.worker.postMessage('start');
  }

  /** Stops sending, waits for every answer, ends the thread; returns the outcomes ordered by tag. */
  async stop(): Promise<TagOutcome[]> {
    const stopped = new Promise<void>((resolve) => (this.stopped = resolve));
    this.worker.postMessage('stop');
    await Promise.race([stopped, this.exited]);
    await this.worker.terminate();
    if (this.failure !== undefined) throw this.failure;
    return this.outcomes.sort((a, b) => a.i - b.i);
  }
}
