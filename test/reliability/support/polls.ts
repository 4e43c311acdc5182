/**
 * Pollers for the outage suites: ask something every few ms while a fault is on, and keep every answer
 * with when it was asked and how long it took, to be sorted afterwards by phase (before, during, after).
 */
import { sleep } from '../../../scripts/servers/process-utils';

export interface Poll {
  at: number;
  status: number;
  ms: number;
  what: string;
}

/** Polls `fetchOne` every `everyMs` until stopped, recording each answer (a thrown error: status 0). */
export function poller(everyMs: number, fetchOne: () => Promise<Omit<Poll, 'at' | 'ms'>>) {
  const polls: Poll[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const at = Date.now();
      const r = await fetchOne().catch((err: unknown) => ({ status: 0, what: (err as Error).message }));
      polls.push({ at, ms: Date.now() - at, ...r });
      await sleep(Math.max(0, at + everyMs - Date.now()));
    }
  })();
  return {
    polls,
    stop: async () => {
      running = false;
      await done;
      return polls;
    },
  };
}

/** Asks a gateway query (POST by default); answers the status and the error body's `code`. */
export async function queryStatus(
  url: string,
  timeoutMs: number,
  method: 'POST' | 'GET' = 'POST',
): Promise<{ status: number; what: string }> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(timeoutMs) });
  const body = await res.text();
  try {
    return { status: res.status, what: (JSON.parse(body) as { code?: string }).code ?? '' };
  } catch {
    return { status: res.status, what: 'NOT_JSON' };
  }
}

/** A profile query and an aggregates query over a shape's tags (2022-03-22 12:00-14:00), for the outage pollers. */
export function storeQueryPaths(shape: { prefix: string }): { profile: string; aggregates: string } {
  return {
    profile: `/user_profiles/${shape.prefix}-1?time_range=2022-03-22T12:00:00.000_2022-03-22T14:00:00.000&limit=5`,
    aggregates:
      '/aggregates?time_range=2022-03-22T12:00:00_2022-03-22T12:10:00&action=VIEW&aggregates=COUNT&aggregates=SUM_PRICE',
  };
}

/** GETs `${url}/health/ready`; answers the status and the names of the checks down. */
export async function readiness(url: string, timeoutMs: number): Promise<{ status: number; what: string }> {
  const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json().catch(() => ({}))) as { error?: Record<string, unknown> };
  return { status: res.status, what: Object.keys(body.error ?? {}).join(',') };
}

/** "200: 12, 503 DEPENDENCY_UNAVAILABLE: 3": answers counted by status and code. */
export function statusCount(polls: readonly Poll[]): string {
  const m = new Map<string, number>();
  for (const p of polls) {
    const key = p.status === 200 || p.what === '' ? String(p.status) : `${p.status} ${p.what}`;
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return [...m].map(([k, n]) => `${k}: ${n}`).join(', ');
}
