import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RawMessage } from '@lib/kafka-avro/consuming/raw-message';
import { DurableBrokerOptions, InMemoryBroker } from './in-memory.broker';
import { InMemorySubscription } from './in-memory.subscription';

const record = (topic: string, key: string, n: number) => ({
  topic,
  key,
  value: Buffer.from(String(n)),
  headers: { n: String(n) },
});
const numbers = (messages: readonly RawMessage[]) => messages.map((m) => Number(m.value?.toString()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function all(broker: InMemoryBroker, topic: string, partition = 0): RawMessage[] {
  const { low, high } = broker.bounds(topic, partition);
  return broker.read(topic, partition, low, high - low + 1);
}

function segments(dir: string, topic: string, partition = 0): string[] {
  return readdirSync(join(dir, 'topics', topic, String(partition))).sort();
}

describe('InMemoryBroker.open (durable)', () => {
  let dir: string;
  const opened: InMemoryBroker[] = [];
  const open = async (options: Partial<DurableBrokerOptions> = {}) => {
    const broker = await InMemoryBroker.open({ dir, partitions: 1, ...options });
    opened.push(broker);
    return broker;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'durable-broker-'));
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((b) => b.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps records, headers and committed offsets across a restart; offsets continue', async () => {
    const first = await open({ partitions: 2 });
    await first.append(Array.from({ length: 10 }, (_, i) => record('t', `k${i % 3}`, i)));
    first.commit('g', 't', 0, 2);
    await first.append([record('t', 'k0', 10)]);
    await first.close();

    const second = await open({ partitions: 7 });
    expect(second.partitionCount('t')).toBe(2);
    const before = [0, 1].map((p) => all(second, 't', p));
    expect(numbers(before.flat()).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(before.flat().find((m) => m.value?.toString() === '4')?.headers).toEqual({ n: '4' });
    expect(second.committed('g', 't', 0)).toBe(2);
    const p = second.partitionOf('t', 'k0');
    const end = second.bounds('t', p).high;
    await second.append([record('t', 'k0', 11)]);
    expect(all(second, 't', p).at(-1)?.offset).toBe(String(end));
  });

  it('shows a record to readers only once it is on disk', async () => {
    const broker = await open();
    const appended = broker.append([record('t', 'k', 1)]);
    expect(broker.bounds('t', 0).high).toBe(0);
    expect(broker.read('t', 0, 0, 10)).toEqual([]);
    await appended;
    expect(broker.bounds('t', 0).high).toBe(1);
  });

  it('shares one write among concurrent appends and keeps their order', async () => {
    const broker = await open();
    await Promise.all(Array.from({ length: 200 }, (_, i) => broker.append([record('t', 'k', i)])));
    expect(numbers(all(broker, 't'))).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // Group commit: far fewer groups than appends (each group writes one checkpoint-free batch).
    await broker.close();
    const data = readFileSync(join(dir, 'topics', 't', '0', segments(dir, 't')[0]));
    const groups = new Set<number>();
    for (let at = 0; at < data.length;) {
      const length = data.readUInt32LE(at);
      groups.add(data.readUInt32LE(at + 8 + 1 + 16) + data.readUInt32LE(at + 8 + 1 + 20) * 2 ** 32);
      at += 8 + length;
    }
    expect(groups.size).toBeLessThan(50);
  });

  it('cuts a torn tail after a crash and goes on after the last whole record', async () => {
    const first = await open();
    await first.append([record('t', 'k', 0), record('t', 'k', 1)]);
    await first.close();
    const file = join(dir, 'topics', 't', '0', segments(dir, 't')[0]);
    const whole = statSync(file).size;
    appendFileSync(file, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 5, 6]));

    const second = await open();
    expect(statSync(file).size).toBe(whole);
    await second.append([record('t', 'k', 2)]);
    expect(all(second, 't').map((m) => [m.offset, m.value?.toString()])).toEqual([
      ['0', '0'],
      ['1', '1'],
      ['2', '2'],
    ]);
  });

  it('drops a whole transaction when a crash kept only some of its records', async () => {
    const first = await open({ partitions: 1 });
    await first.append(
      [record('a', 'k', 0), record('b', 'k', 0)],
      [{ groupId: 'g', topic: 'in', partition: 0, offset: 1 }],
    );
    await first.append(
      [record('a', 'k', 1), record('b', 'k', 1)],
      [{ groupId: 'g', topic: 'in', partition: 0, offset: 2 }],
    );
    await first.close();
    // The crash came after the second transaction reached topic a and the offsets, but not topic b.
    const fileB = join(dir, 'topics', 'b', '0', segments(dir, 'b')[0]);
    const firstRecordBytes = readFileSync(fileB).readUInt32LE(0) + 8;
    truncateSync(fileB, firstRecordBytes);

    const second = await open();
    expect(numbers(all(second, 'a'))).toEqual([0]);
    expect(numbers(all(second, 'b'))).toEqual([0]);
    expect(second.committed('g', 'in', 0)).toBe(1);
    await second.append([record('a', 'k', 9)]);
    expect(all(second, 'a').at(-1)?.offset).toBe('1');
  });

  it('deletes segments every group consumed, and keeps serving from the committed offset after a restart', async () => {
    const first = await open({ segmentBytes: 200, retainConsumedPerPartition: 0 });
    for (let i = 0; i < 40; i++) await first.append([record('t', 'k', i)]);
    expect(segments(dir, 't').length).toBeGreaterThan(5);
    first.commit('g', 't', 0, 30);
    await first.append([record('t', 'k', 40)]);
    await first.close();
    const left = segments(dir, 't');
    expect(Number(left[0].slice(0, 20))).toBeLessThanOrEqual(30);
    expect(Number(left[0].slice(0, 20))).toBeGreaterThan(20);

    const second = await open({ segmentBytes: 200, retainConsumedPerPartition: 0 });
    expect(second.bounds('t', 0)).toEqual({ low: 30, high: 41 });
    expect(numbers(second.read('t', 0, 30, 100))).toEqual(Array.from({ length: 11 }, (_, i) => 30 + i));
  });

  it('compacts a compacted topic by key on disk and in memory, keeping the latest record of each key', async () => {
    const options = { segmentBytes: 300, compactedTopics: ['state'] };
    const first = await open(options);
    for (let i = 0; i < 300; i++) await first.append([record('state', `k${i % 3}`, i)]);
    await first.close();
    const bytes = segments(dir, 'state').reduce((n, f) => n + statSync(join(dir, 'topics', 'state', '0', f)).size, 0);
    expect(bytes).toBeLessThan(1_500);

    const second = await open(options);
    const latest = new Map(all(second, 'state').map((m) => [m.key, Number(m.value?.toString())]));
    expect(latest).toEqual(
      new Map([
        ['k0', 297],
        ['k1', 298],
        ['k2', 299],
      ]),
    );
    expect(all(second, 'state').length).toBeLessThan(20);
    await second.append([record('state', 'k0', 300)]);
    expect(all(second, 'state').at(-1)?.offset).toBe('300');
  });

  it('rewrites a grown offsets file with the latest offsets only', async () => {
    const first = await open({ offsetsCompactBytes: 500 });
    for (let i = 1; i <= 100; i++) {
      first.commit('g', 't', 0, i);
      await first.append([record('t', 'k', i)]);
    }
    await first.close();
    expect(statSync(join(dir, 'offsets.log')).size).toBeLessThan(1_000);
    const second = await open();
    expect(second.committed('g', 't', 0)).toBe(100);
  });

  it('refuses a log that is already open in this process', async () => {
    await open();
    await expect(open()).rejects.toThrow('already open in this process');
  });

  it('refuses a log that another live process holds', async () => {
    writeFileSync(join(dir, 'LOCK'), String(process.ppid));
    await expect(open()).rejects.toThrow(`in use by process ${process.ppid}`);
  });

  it('lets a consumer group resume after a restart without losing or repeating a record', async () => {
    const consume = async (broker: InMemoryBroker, seen: number[], until: number) => {
      const s = new InMemorySubscription(broker, {
        groupId: 'g',
        topics: ['t'],
        fromBeginning: true,
        maxBatchMessages: 7,
        handle: async (_t, _p, messages) => {
          seen.push(...numbers(messages));
        },
      });
      await s.start();
      for (let i = 0; i < 200 && seen.length < until; i++) await sleep(5);
      await s.stop();
    };
    const seen: number[] = [];
    const first = await open({ partitions: 2 });
    await first.append(Array.from({ length: 50 }, (_, i) => record('t', `k${i % 5}`, i)));
    await consume(first, seen, 50);
    await first.append(Array.from({ length: 30 }, (_, i) => record('t', `k${i % 5}`, 50 + i)));
    await first.close();

    const second = await open({ partitions: 2 });
    await consume(second, seen, 80);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, i) => i));
  });

  it('fails appends, not the process, once the log is closed', async () => {
    const broker = await open();
    await broker.close();
    expect(broker.healthy).toBe(false);
    await expect(broker.append([record('t', 'k', 1)])).rejects.toThrow('closed');
  });
});
