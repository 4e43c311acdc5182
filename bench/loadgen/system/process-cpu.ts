/**
 * CPU time of this process and its descendants (the apps, the JVM of Kafka, the PostgreSQL processes),
 * read from /proc, grouped by role: where the two cores went during a run. Linux only; elsewhere empty.
 */
import { readFileSync, readdirSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** user + system CPU seconds so far. */
  cpuS: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may itself contain spaces or parentheses: split after the last ')'.
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    return { pid, ppid: Number(f[1]), comm, cpuS: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** Every descendant of `root` (root included). */
export function processTree(root = process.pid): ProcStat[] {
  let pids: number[];
  try {
    pids = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
  const all = pids.map(readStat).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const out: ProcStat[] = [];
  const self = all.find((s) => s.pid === root);
  const stack = self ? [self] : [];
  while (stack.length > 0) {
    const s = stack.pop() as ProcStat;
    out.push(s);
    stack.push(...(children.get(s.pid) ?? []));
  }
  return out;
}

/**
 * CPU seconds by role; `roles` names known pids (their descendants count with them), `self` names this
 * process.
 */
export function cpuByRole(roles: Record<string, number | undefined>, self = 'loadgen'): Record<string, number> {
  const tree = processTree();
  const byPid = new Map(tree.map((s) => [s.pid, s]));
  const roleOf = (s: ProcStat): string => {
    for (let p: ProcStat | undefined = s; p !== undefined; p = byPid.get(p.ppid)) {
      const named = Object.entries(roles).find(([, pid]) => pid === p?.pid);
      if (named !== undefined) return named[0];
      if (p.pid === process.pid) break;
    }
    if (s.pid === process.pid) return self;
    if (s.comm === 'java') return 'kafka';
    if (s.comm.startsWith('postgres')) return 'postgres';
    return 'other';
  };
  const out: Record<string, number> = {};
  for (const s of tree) out[roleOf(s)] = (out[roleOf(s)] ?? 0) + s.cpuS;
  return out;
}

/** Difference of two cpuByRole readings. */
export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = Math.max(0, v - (before[k] ?? 0));
  return out;
}
