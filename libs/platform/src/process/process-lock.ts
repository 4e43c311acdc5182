import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Claims `lockFile` for this process (the file holds its pid), for data only one process may open (the
 * in-process log, the embedded database). A lock whose process is gone is taken over; one held by a live
 * process throws the message `inUse` gives for its pid. Removing the file releases the lock.
 */
export function takeProcessLock(lockFile: string, inUse: (owner: number) => string): void {
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number(readFileSync(lockFile, 'utf8').trim());
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
    throw new Error(inUse(owner));
  }
  // Left behind by a process that died (or by this one, after a crash of a worker): take over.
  writeFileSync(lockFile, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
