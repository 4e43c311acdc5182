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
import { cpus } from 'node:os';
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

function measure(c: Case): { rate: number; count: number } {
  const run = (ms: number, limit: number): { count: number; elapsed: number } => {
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
    return { count, elapsed: Number(process.hrtime.bigint() - start) / 1e9 };
  };
  run(seconds * 250, max / 4);
  const { count, elapsed } = run(seconds * 1_000, max);
  return { rate: count / elapsed, count };
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
  console.log(
    `serde round trips (encode + decode), one thread; node ${process.version}, nproc ${nproc}, ${seconds} s per case`,
  );
  console.log(`${'case'.padEnd(42)} ${'round trips/s'.padStart(14)} ${'bytes'.padStart(6)} ${'count'.padStart(10)}`);
  for (const c of cases) {
    const { rate, count } = measure(c);
    console.log(
      `${c.name.padEnd(42)} ${Math.round(rate).toLocaleString('en-US').padStart(14)} ${String(c.bytes).padStart(6)} ${count.toLocaleString('en-US').padStart(10)}`,
    );
  }

  // The Confluent serde is async (registry lookups): measured with awaits, in batches of 1000.
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(seconds * 1e9);
  let count = 0;
  while (count < max && process.hrtime.bigint() < deadline) {
    for (let k = 0; k < 1_000; k++) {
      await confluent.decode(
        't',
        SCHEMAS.userTag,
        await confluent.encode('t', SCHEMAS.userTag, tags[(count + k) & 1023]),
      );
    }
    count += 1_000;
  }
  const rate = count / (Number(process.hrtime.bigint() - start) / 1e9);
  const bytes = (await confluent.encode('t', SCHEMAS.userTag, tags[0])).length;
  console.log(
    `${'UserTag    Avro Confluent (serde, async)'.padEnd(42)} ${Math.round(rate).toLocaleString('en-US').padStart(14)} ${String(bytes).padStart(6)} ${count.toLocaleString('en-US').padStart(10)}`,
  );
}

void main();
