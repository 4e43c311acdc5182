import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(__dirname, '..', '..');

/** Runs the project's dependency-cruiser rules over a scratch tree holding the given files. */
function cruise(files: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'boundaries-'));
  try {
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    for (const top of ['apps', 'libs', 'bench']) mkdirSync(join(dir, top));
    copyFileSync(join(root, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { baseUrl: '.', paths: { '@lib/domain': ['libs/domain/src'] } } }),
    );
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const result = spawnSync(
      process.execPath,
      [join(root, 'node_modules', '.bin', 'depcruise'), 'apps', 'libs', 'bench', '--config', '.dependency-cruiser.cjs'],
      { cwd: dir, encoding: 'utf8', timeout: 60_000 },
    );
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const clean = {
  'libs/domain/src/index.ts': 'export const one = 1;\n',
  'apps/gateway/src/main.ts': "import { one } from '../../../libs/domain/src';\nexport const two = one + 1;\n",
  'apps/pipeline/src/main.ts': "import { one } from '../../../libs/domain/src';\nexport const three = one + 2;\n",
};

describe('architecture boundaries (dependency-cruiser)', () => {
  it('accepts a tree that keeps them', () => {
    expect(cruise(clean)).toMatchObject({ status: 0 });
  });

  it.each(['@nestjs/common', 'kafkajs', 'typeorm', 'pg', 'aerospike', 'avsc'])(
    'fails when libs/domain imports %s',
    (pkg) => {
      const { status, output } = cruise({
        ...clean,
        'libs/domain/src/bad.ts': `import * as x from '${pkg}';\nexport const y = x;\n`,
      });
      expect(status).not.toBe(0);
      expect(output).toContain('no-domain-to-infra-deps');
    },
  );

  it('fails when an app imports another app', () => {
    const { status, output } = cruise({
      ...clean,
      'apps/gateway/src/bad.ts': "import { three } from '../../pipeline/src/main';\nexport const z = three;\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain('no-app-to-app');
  });

  it('fails when an app imports the Kafka adapter of libs/kafka-avro, not from its tests', () => {
    const files = {
      ...clean,
      'libs/kafka-avro/src/kafka/kafka-topic.reader.ts': 'export const adapter = 1;\n',
      'libs/kafka-avro/src/index.ts': "export { adapter } from './kafka/kafka-topic.reader';\n",
      'apps/raw-producer/src/ok.ts':
        "import { adapter } from '../../../libs/kafka-avro/src';\nexport const a = adapter;\n",
      'apps/raw-producer/src/ok.spec.ts':
        "import { adapter } from '../../../libs/kafka-avro/src/kafka/kafka-topic.reader';\nexport const b = adapter;\n",
    };
    expect(cruise(files)).toMatchObject({ status: 0 });
    const { status, output } = cruise({
      ...files,
      'apps/raw-producer/src/bad.ts':
        "import { adapter } from '../../../libs/kafka-avro/src/kafka/kafka-topic.reader';\nexport const c = adapter;\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain('apps-code-against-messaging-ports');
  });

  it('lets only the embedded mode, tests and benches import the in-process log', () => {
    const use = (depth: number) =>
      `import { log } from '${'../'.repeat(depth)}libs/in-process-log/src';\nexport const used = log;\n`;
    const files = {
      ...clean,
      'libs/in-process-log/src/index.ts': 'export const log = 1;\n',
      'apps/embedded/src/root.ts': use(3),
      'apps/gateway/src/ok.spec.ts': use(3),
      'bench/log.bench.ts': use(1),
    };
    expect(cruise(files)).toMatchObject({ status: 0 });
    for (const [path, depth] of [
      ['apps/gateway/src/bad.ts', 3],
      ['libs/kafka-avro/src/bad.ts', 3],
    ] as const) {
      const { status, output } = cruise({ ...files, [path]: use(depth) });
      expect([path, status === 0]).toEqual([path, false]);
      expect(output).toContain('in-process-log-is-the-embedded-modes');
    }
  });

  it('fails when the loadgen imports product code', () => {
    const { status, output } = cruise({
      ...clean,
      'bench/loadgen/model.ts': "import { one } from '../../libs/domain/src';\nexport const m = one;\n",
    });
    expect(status).not.toBe(0);
    expect(output).toContain('loadgen-is-independent');
  });
});
