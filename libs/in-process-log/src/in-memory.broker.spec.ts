import type { RawMessage } from '@lib/kafka-avro/consuming/raw-message';
import { InMemoryBroker } from './in-memory.broker';
import { InMemorySubscription } from './in-memory.subscription';

const record = (topic: string, key: string, n: number) => ({ topic, key, value: Buffer.from(String(n)), headers: {} });
const numbers = (messages: readonly RawMessage[]) => messages.map((m) => Number(m.value?.toString()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('InMemoryBroker', () => {
  it('puts every record of a key in one partition, in order, with consecutive offsets', () => {
    const broker = new InMemoryBroker({ partitions: 4 });
    broker.append(Array.from({ length: 40 }, (_, i) => record('t', `k${i % 5}`, i)));
    const partitions = Array.from({ length: 4 }, (_, p) => broker.read('t', p, 0, 100));
    expect(partitions.flat()).toHaveLength(40);
    for (const messages of partitions) {
      expect(messages.map((m) => m.offset)).toEqual(messages.map((_, i) => String(i)));
    }
    for (let k = 0; k < 5; k++) {
      const p = broker.partitionOf('t', `k${k}`);
      expect(numbers(partitions[p].filter((m) => m.key === `k${k}`))).toEqual(
        [0, 1, 2, 3, 4, 5, 6, 7].map((i) => i * 5 + k),
      );
    }
  });

  it('drops what every group has committed past, keeping the most recent records', () => {
    const broker = new InMemoryBroker({ partitions: 1, retainConsumedPerPartition: 10 });
    broker.append(Array.from({ length: 100 }, (_, i) => record('t', 'k', i)));
    broker.commit('a', 't', 0, 80);
    // a alone: below min(its offset 80, end 100 - 10 retained) = 80.
    expect(broker.bounds('t', 0)).toEqual({ low: 80, high: 100 });
    broker.commit('b', 't', 0, 30);
    broker.commit('a', 't', 0, 95);
    expect(broker.bounds('t', 0).low).toBe(80);
    broker.commit('b', 't', 0, 100);
    expect(broker.bounds('t', 0)).toEqual({ low: 90, high: 100 });
    expect(numbers(broker.read('t', 0, 90, 100))).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  });

  it('never holds more than the cap per partition, consumed or not', () => {
    const broker = new InMemoryBroker({ partitions: 1, maxRecordsPerPartition: 50 });
    for (let i = 0; i < 200; i++) broker.append([record('t', 'k', i)]);
    expect(broker.bounds('t', 0)).toEqual({ low: 150, high: 200 });
    expect(numbers(broker.read('t', 0, 150, 1))).toEqual([150]);
  });

  it('applies a transaction as one step: records and offsets together', () => {
    const broker = new InMemoryBroker({ partitions: 1 });
    broker.append(
      [record('out', 'k', 1), record('out', 'k', 2)],
      [{ groupId: 'g', topic: 'in', partition: 0, offset: 7 }],
    );
    expect(broker.bounds('out', 0).high).toBe(2);
    expect(broker.committed('g', 'in', 0)).toBe(7);
  });
});

describe('InMemorySubscription', () => {
  it('hands a partition to a new member only after the batch the old one was processing is committed', async () => {
    const broker = new InMemoryBroker({ partitions: 2 });
    broker.append(Array.from({ length: 20 }, (_, i) => record('t', `k${i % 4}`, i)));
    const seen: number[] = [];
    let release: () => void = () => undefined;
    const slowFirstBatch = new Promise<void>((r) => (release = r));
    let first = true;
    const a = new InMemorySubscription(broker, {
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      maxBatchMessages: 100,
      handle: async (_t, _p, messages) => {
        if (first) {
          first = false;
          await slowFirstBatch;
        }
        seen.push(...numbers(messages));
      },
    });
    await a.start();
    await sleep(10);
    const b = new InMemorySubscription(broker, {
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      maxBatchMessages: 100,
      handle: async (_t, _p, messages) => {
        seen.push(...numbers(messages));
      },
    });
    const joining = b.start();
    await sleep(20);
    release();
    await joining;
    for (let i = 0; i < 100 && seen.length < 20; i++) await sleep(10);
    await Promise.all([a.stop(), b.stop()]);
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('resets a resume offset beyond the end of the log, as Kafka does for an out-of-range offset', async () => {
    const broker = new InMemoryBroker({ partitions: 1 });
    broker.append([record('t', 'k', 0), record('t', 'k', 1)]);
    const seen: number[] = [];
    const s = new InMemorySubscription(broker, {
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      maxBatchMessages: 10,
      resumeFrom: async () => new Map([[0, '5000']]),
      handle: async (_t, _p, messages) => {
        seen.push(...numbers(messages));
      },
    });
    await s.start();
    for (let i = 0; i < 50 && seen.length < 2; i++) await sleep(5);
    await s.stop();
    expect(seen).toEqual([0, 1]);
  });
});
