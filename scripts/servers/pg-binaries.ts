import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const REQUIRED = ['initdb', 'postgres'];

function hasServerBinaries(dir: string): boolean {
  return REQUIRED.every((bin) => existsSync(join(dir, bin)));
}

/**
 * The directory holding PostgreSQL's server binaries (initdb, postgres), or undefined:
 * $PG_BIN_DIR, else `pg_config --bindir`, else the newest /usr/lib/postgresql/<major>/bin (Debian's layout,
 * where initdb is not on PATH and pg_config may come from libpq-dev without a server).
 */
export function findPgBinDir(): string | undefined {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return hasServerBinaries(fromEnv) ? fromEnv : undefined;

  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dir !== '' && hasServerBinaries(dir)) return dir;
  } catch {
    // no pg_config on PATH
  }

  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  return majors.map((major) => join(root, major, 'bin')).find(hasServerBinaries);
}
