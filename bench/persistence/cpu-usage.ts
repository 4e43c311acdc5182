import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * CPU seconds spent by a PostgreSQL server: the postmaster and all its children (backends, WAL
 * writer, checkpointer...), from /proc. On a machine shared with other work, wall-clock throughput
 * swings with the load; CPU seconds per row do not, so the benches report both.
 */
const TICKS_PER_SECOND = 100;

function cpuTicks(stat: string): number {
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function parentOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

export function postgresCpuSeconds(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    if (Number(entry) === postmaster || parentOf(stat) === postmaster) ticks += cpuTicks(stat);
  }
  return ticks / TICKS_PER_SECOND;
}

/** CPU seconds (user + system) of this process since `since`, as process.cpuUsage reports. */
export function processCpuSeconds(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}
