import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

describe('an app started with bad environment variables', () => {
  it('exits non-zero before starting, with one message listing every bad variable', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/gateway/src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, PORT: 'eighty', TRANSPORT: 'carrier-pigeon', DEBUG_COMPARE: 'sometimes' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('Invalid configuration for gateway (3 problems):');
    expect(result.stderr).toContain('PORT: got "eighty", expected an integer from 1 to 65535');
    expect(result.stderr).toContain('TRANSPORT: got "carrier-pigeon", expected one of in-process, kafka');
    expect(result.stderr).toContain('DEBUG_COMPARE: got "sometimes", expected true or false');
    // Nothing started: Nest never logged.
    expect(result.stdout).not.toContain('Nest application successfully started');
  });
});
