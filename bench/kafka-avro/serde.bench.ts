/**
 * Encode + decode rate of one value, in one thread: Avro single-object encoding through the library's
 * serde (validation, fingerprint lookup, reader resolution included) against JSON (stringify to a
 * Buffer and parse back), for a user tag and a Deribit trade. Also the bare avsc body and the
 * Confluent framing (registry lookups cached) for reference.
 *
 *   npx tsx bench/kafka-avro/serde.bench.ts [--seconds 2] [--max 5000000]
 *
 * Bounded: each case runs `seconds` (after a warm-up of a quarter of that) or `max` round trips,
 * whichever comes first.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  ConfluentSerde,
  defaultSchemaCatalog,
  SCHEMAS,
  SchemaRegistryClient,
  SingleObjectSerde,
} from '@lib/kafka-avro';
import { sampleTrade, sampleUserTag } from '../../libs/kafka-avro/src/testing/sample-values';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '2' }, max: { type: 'string', default: '5000000' } },
});
const seconds = Number(args.seconds);
const max = Number(args.max);

interface Case {
  name: string;
  bytes: number;
  /** One round trip; returns something so the work cannot be optimised away. */
  roundTrip(i: number): unknown;
}

function measure(c: Case): { rate: number; cpuRate: number; count: number } {
  const run = (ms: number, limit: number): { count: number; elapsed: number; cpu: number } => {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(ms * 1e6);
    let count = 0;
    let sink = 0;
    // Check the clock every 1000 iterations: hrtime is not free.
    while (count < limit) {
      for (let k = 0; k < 1_000; k++) sink += c.roundTrip(count + k) === undefined ? 0 : 1;
      count += 1_000;
      if (process.hrtime.bigint() > deadline) break;
    }
    if (sink !== count) throw new Error(`${c.name}: a round trip returned nothing`);
    const cpu = process.cpuUsage(cpuStart);
    return { count, elapsed: Number(process.hrtime.bigint() - start) / 1e9, cpu: (cpu.user + cpu.system) / 1e6 };
  };
  run(seconds * 250, max / 4);
  const { count, elapsed, cpu } = run(seconds * 1_000, max);
  return { rate: count / elapsed, cpuRate: count / cpu, count };
}

async function main(): Promise<void> {
  const catalog = defaultSchemaCatalog();
  const single = new SingleObjectSerde(catalog);
  const tags = Array.from({ length: 1_024 }, (_, i) => sampleUserTag(i));
  const trades = Array.from({ length: 1_024 }, (_, i) => sampleTrade(i));
  const userTagType = catalog.current(SCHEMAS.userTag).type;

  // Confluent: a registry stub that answers at once; ids are cached after the first call anyway.
  const registry: SchemaRegistryClient = {
    register: async () => ({ id: 1 }),
    getSchema: async () => userTagType as never,
  };
  const confluent = new ConfluentSerde(registry, catalog);
  await confluent.decode('t', SCHEMAS.userTag, await confluent.encode('t', SCHEMAS.userTag, tags[0]));

  const cases: Case[] = [
    {
      name: 'UserTag    Avro single-object (serde)',
      bytes: single.encode('t', SCHEMAS.userTag, tags[0]).length,
      roundTrip: (i) => single.decode('t', SCHEMAS.userTag, single.encode('t', SCHEMAS.userTag, tags[i & 1023])),
    },
    {
      name: 'UserTag    Avro body only (avsc)',
      bytes: userTagType.toBuffer(tags[0]).length,
      roundTrip: (i) => userTagType.fromBuffer(userTagType.toBuffer(tags[i & 1023])),
    },
    {
      name: 'UserTag    JSON',
      bytes: Buffer.from(JSON.stringify(tags[0])).length,
      roundTrip: (i) => JSON.parse(Buffer.from(JSON.stringify(tags[i & 1023])).toString('utf8')),
    },
    {
      name: 'DeribitTrade Avro single-object (serde)',
      bytes: single.encode('t', SCHEMAS.deribitTrade, trades[0]).length,
      roundTrip: (i) =>
        single.decode('t', SCHEMAS.deribitTrade, single.encode('t', SCHEMAS.deribitTrade, trades[i & 1023])),
    },
    {
      name: 'DeribitTrade JSON',
      bytes: Buffer.from(JSON.stringify(trades[0])).length,
      roundTrip: (i) => JSON.parse(Buffer.from(JSON.stringify(trades[i & 1023])).toString('utf8')),
    },
  ];

  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc').toString().trim();
  } catch {
    // nproc is from coreutils; the os module's count is the fallback.
  }
  const row = (name: string, rate: number, cpuRate: number, bytes: number, count: number): string =>
    `${name.padEnd(42)} ${Math.round(rate).toLocaleString('en-US').padStart(14)} ${Math.round(cpuRate)
      .toLocaleString('en-US')
      .padStart(16)} ${String(bytes).padStart(6)} ${count.toLocaleString('en-US').padStart(10)}`;
  console.log(
    `serde round trips (encode + decode), one thread; node ${process.version}, nproc ${nproc}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${seconds} s per case`,
  );
  console.log(
    `${'case'.padEnd(42)} ${'round trips/s'.padStart(14)} ${'per CPU-second'.padStart(16)} ${'bytes'.padStart(6)} ${'count'.padStart(10)}`,
  );
  for (const c of cases) {
    const { rate, cpuRate, count } = measure(c);
    console.log(row(c.name, rate, cpuRate, c.bytes, count));
  }

  // The Confluent serde is async (registry lookups): measured with awaits, in batches of 1000.
  const cpuStart = process.cpuUsage();
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(seconds * 1e9);
  let count = 0;
  while (count < max && process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 1_000; k++) {
      const bytes = await confluent.encode('t', SCHEMAS.userTag, tags[(count + k) & 1023]);
      await confluent.decode('t', SCHEMAS.userTag, bytes);
    }
    count += 1_000;
  }
  const cpu = process.cpuUsage(cpuStart);
  const rate = count / (Number(process.hrtime.bigint() - start) / 1e9);
  const bytes = (await confluent.encode('t', SCHEMAS.userTag, tags[0])).length;
  console.log(
    row('UserTag    Avro Confluent (serde, async)', rate, count / ((cpu.user + cpu.system) / 1e6), bytes, count),
  );
}

void main();
