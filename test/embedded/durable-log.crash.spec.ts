/**
 * The durable in-process log under SIGKILL: a writer process publishes and commits transactions as fast
 * as it can and is killed mid-write, three times; after each kill the log is opened again and must
 * hold every acknowledged record exactly once, at the offset it had, with transactions all or nothing,
 * and offsets that continue rather than restart.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { InMemoryBroker } from '../../libs/in-process-log/src/in-memory.broker';
import { killWithParent, sleep, waitForExit } from '../../scripts/servers/process-utils';
import { CRASH_LOG_OPTIONS } from './support/durable-log.options';

jest.setTimeout(120_000);

const ROOT = resolve(__dirname, '..', '..');
const OPTIONS = { ...CRASH_LOG_OPTIONS, retainConsumedPerPartition: Number.MAX_SAFE_INTEGER };

interface Writer {
  readonly child: ChildProcess;
  readonly acked: Set<number>;
  readonly txns: number[];
  readonly closed: Promise<void>;
  stderr: string;
}

function startWriter(dir: string, firstSeq: number, firstTxn: number): Writer {
  const child = spawn(
    process.execPath,
    [
      '-r',
      '@swc-node/register',
      'test/embedded/support/durable-log.writer.ts',
      dir,
      String(firstSeq),
      String(firstTxn),
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, NO_COLOR: '1' } },
  );
  const disarm = killWithParent(child, { signal: 'SIGKILL', graceSeconds: 1 });
  const writer: Writer = {
    child,
    acked: new Set(),
    txns: [],
    stderr: '',
    // Lines already in the pipe when the writer dies were acknowledged before it died: read them all.
    closed: new Promise<void>((done) => child.stdout?.on('close', () => done())).then(disarm),
  };
  child.stderr?.on('data', (chunk: Buffer) => (writer.stderr += chunk.toString()));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const [kind, n] = line.split(' ');
    if (kind === 'A') writer.acked.add(Number(n));
    if (kind === 'T') writer.txns.push(Number(n));
  });
  return writer;
}

async function killWhenBusy(writer: Writer, acks: number, txns: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (writer.acked.size < acks || writer.txns.length < txns) {
    if (writer.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(
        `writer stopped or too slow (${writer.acked.size} acks, ${writer.txns.length} txns): ${writer.stderr}`,
      );
    }
    await sleep(20);
  }
  await sleep(Math.floor(Math.random() * 50));
  writer.child.kill('SIGKILL');
  await waitForExit(writer.child, 10_000);
  await writer.closed;
}

interface Snapshot {
  /** "partition:offset" -> seq of every record of topic events */
  readonly events: Map<string, number>;
  readonly maxSeq: number;
  readonly maxTxn: number;
}

/** Opens the log as a restarted process would, checks it against what was acknowledged, and closes it. */
async function verify(
  dir: string,
  acked: ReadonlySet<number>,
  ackedTxns: readonly number[],
  before?: Snapshot,
): Promise<Snapshot> {
  const broker = await InMemoryBroker.open({ ...OPTIONS, dir });
  try {
    const events = new Map<string, number>();
    const seen = new Map<number, number>();
    for (let p = 0; p < broker.partitionCount('events'); p++) {
      const { low, high } = broker.bounds('events', p);
      const messages = broker.read('events', p, low, high - low);
      expect(messages.map((m) => Number(m.offset))).toEqual(Array.from({ length: high - low }, (_, i) => low + i));
      const lastOfKey = new Map<string, number>();
      for (const m of messages) {
        const seq = Number(m.value?.toString());
        expect(m.headers).toEqual({ seq: String(seq) });
        // One publisher per key, each waiting for its previous publish: a key's records are in seq order.
        expect(seq).toBeGreaterThan(lastOfKey.get(String(m.key)) ?? -1);
        lastOfKey.set(String(m.key), seq);
        events.set(`${p}:${m.offset}`, seq);
        seen.set(seq, (seen.get(seq) ?? 0) + 1);
      }
    }
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    const lost = [...acked].filter((seq) => !seen.has(seq));
    expect(lost).toEqual([]);
    for (const [at, seq] of before?.events ?? []) expect([at, events.get(at)]).toEqual([at, seq]);

    const outPartition = broker.partitionOf('out', 'o');
    const { low, high } = broker.bounds('out', outPartition);
    const out = broker.read('out', outPartition, low, high - low).map((m) => Number(m.value?.toString()));
    expect(out).toEqual(Array.from({ length: out.length }, (_, i) => i));
    const maxTxn = out.length - 1;
    expect(Math.max(-1, ...ackedTxns)).toBeLessThanOrEqual(maxTxn);
    // The offset commit rode in the same append as the record: both there, or neither.
    expect(broker.committed('tx', 'events', 0)).toBe(maxTxn);
    const state = new Map<string, number>();
    for (let p = 0; p < broker.partitionCount('state'); p++) {
      const range = broker.bounds('state', p);
      for (const m of broker.read('state', p, range.low, range.high - range.low))
        state.set(String(m.key), Number(m.value?.toString()));
    }
    for (let k = 0; k < 5; k++) {
      const latest = maxTxn - ((((maxTxn - k) % 5) + 5) % 5);
      expect([k, state.get(`s${k}`)]).toEqual([k, latest >= 0 ? latest : undefined]);
    }
    return { events, maxSeq: Math.max(-1, ...seen.keys()), maxTxn };
  } finally {
    await broker.close();
  }
}

describe('durable in-process log, killed with SIGKILL while writing', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'durable-log-crash-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged record exactly once, transactions whole, offsets continuing', async () => {
    const acked = new Set<number>();
    const txns: number[] = [];
    let snapshot: Snapshot | undefined;
    for (let round = 0; round < 3; round++) {
      const writer = startWriter(dir, (snapshot?.maxSeq ?? -1) + 1, (snapshot?.maxTxn ?? -1) + 1);
      await killWhenBusy(writer, 1_500, 20);
      writer.acked.forEach((seq) => acked.add(seq));
      txns.push(...writer.txns);
      const next = await verify(dir, acked, txns, snapshot);
      expect(next.events.size).toBeGreaterThan(snapshot?.events.size ?? 0);
      snapshot = next;
    }
  });
});
