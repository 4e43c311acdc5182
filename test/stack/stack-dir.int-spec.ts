/**
 * `STACK_DIR=$(mktemp -d) npm run stack` as root: PostgreSQL runs as the user `postgres`, which cannot
 * enter a 0700 directory of root's. The stack stops before starting anything, with one line that names
 * the directory and the command that fixes it (it used to fail inside initdb with "Permission denied").
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertServerCanReach, firstUnreachableDirectory } from '../../scripts/servers/postgres-server';
import { freePorts } from '../../scripts/servers/process-utils';

const ROOT = resolve(__dirname, '..', '..');
const asRoot = process.getuid?.() === 0;

jest.setTimeout(120_000);

describe('STACK_DIR that PostgreSQL cannot enter', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'stack-closed-'));
    chmodSync(dir, 0o700); // what mktemp -d gives
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  if (asRoot) {
    it('npm run stack exits 1 at once with one line saying what to do, and starts nothing', async () => {
      const [kafka, pg, ...apps] = await freePorts(6);
      const child = spawn('npm', ['run', '--silent', 'stack'], {
        cwd: ROOT,
        env: {
          ...process.env,
          STACK_DIR: dir,
          KAFKA_PORT: String(kafka),
          PG_PORT: String(pg),
          STACK_GATEWAY_PORT: String(apps[0]),
          STACK_PIPELINE_PORT: String(apps[1]),
          STACK_RAW_PRODUCER_PORT: String(apps[2]),
          STACK_AGG_PRODUCER_PORT: String(apps[3]),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));

      expect(code).toBe(1);
      const advice = output.split('\n').filter((line) => line.includes(`chmod o+x ${dir}`));
      expect(advice).toHaveLength(1);
      expect(advice[0]).toContain(`cannot enter ${dir} (mode 0700)`);
      expect(output).not.toContain('initdb');
      // Nothing was started: no data directory for either server.
      expect(readdirSync(dir).filter((name) => name === 'kafka' || name === 'postgres')).toEqual([]);
    });

    it('after the advised chmod, the check passes', () => {
      expect(firstUnreachableDirectory(join(dir, 'postgres'), { uid: 0, gid: 0 })).toBeUndefined();
      expect(() => assertServerCanReach(join(dir, 'postgres'))).toThrow(/cannot enter/);
      chmodSync(dir, 0o701);
      expect(() => assertServerCanReach(join(dir, 'postgres'))).not.toThrow();
    });
  } else {
    it('as another user PostgreSQL runs as us, and we can enter our own directory', () => {
      expect(firstUnreachableDirectory(join(dir, 'postgres'), undefined)).toBeUndefined();
      expect(() => assertServerCanReach(join(dir, 'postgres'))).not.toThrow();
    });
  }
});
