import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takeProcessLock } from './process-lock';

describe('takeProcessLock', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const inUse = (owner: number) => `in use by ${owner}`;

  it('creates the lock with this pid, and takes it again in the same process', () => {
    const file = join(dir, 'LOCK');
    takeProcessLock(file, inUse);
    expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
    expect(() => takeProcessLock(file, inUse)).not.toThrow();
  });

  it('refuses a lock held by a live process, naming it', async () => {
    const file = join(dir, 'LOCK');
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
    try {
      writeFileSync(file, String(other.pid));
      expect(() => takeProcessLock(file, inUse)).toThrow(`in use by ${other.pid}`);
      expect(readFileSync(file, 'utf8')).toBe(String(other.pid));
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('takes over the lock of a process that is gone, or a file that holds no pid', async () => {
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await new Promise((done) => gone.once('exit', done));
    for (const content of [String(gone.pid), 'garbage', '']) {
      const file = join(dir, `LOCK-${content || 'empty'}`);
      writeFileSync(file, content);
      takeProcessLock(file, inUse);
      expect(readFileSync(file, 'utf8')).toBe(String(process.pid));
    }
  });
});
