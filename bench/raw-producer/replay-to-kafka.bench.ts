/**
 * Replay-to-Kafka rate of raw-producer: the app as main.ts composes it (TRANSPORT=kafka, Avro single-object,
 * acks=all, idempotent producer, one publish in flight), replaying the shipped recording in a loop as fast
 * as it can into a real single-node Kafka broker started for the run (scripts/servers/kafka-server.ts).
 *
 *   npx tsx bench/raw-producer/replay-to-kafka.bench.ts [--seconds 20] [--warmup 5] [--batch 2000]
 *
 * Two legs, each a fresh process (replay-to-kafka.leg.ts) on its own topic: Node's default young
 * generation, then `--max-semi-space-size=64` (fewer scavenges: most of what the app allocates per trade
 * dies young). For each: trades/s from the app's produced counter (acknowledged writes) after a warm-up,
 * CPU per trade (what the shared machine's load skews least), and a check that the topic holds exactly what
 * the app says it produced. Bounded: every leg is killed after seconds + warm-up + 60 s, the broker is
 * stopped at the end.
 */
import { execSync, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import type { LegResult } from './replay-to-kafka.leg';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    batch: { type: 'string', default: '2000' },
  },
});
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);

const LEGS: { name: string; nodeFlags: string[] }[] = [
  { name: 'default heap', nodeFlags: [] },
  { name: '--max-semi-space-size=64', nodeFlags: ['--max-semi-space-size=64'] },
];

function runLeg(nodeFlags: string[], brokers: string, topic: string): Promise<LegResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...nodeFlags,
        '--import',
        'tsx',
        join(__dirname, 'replay-to-kafka.leg.ts'),
        `--brokers=${brokers}`,
        `--topic=${topic}`,
        `--seconds=${seconds}`,
        `--warmup=${warmup}`,
        `--batch=${args.batch}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + warmup + 60) * 1_000);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line !== undefined) resolve(JSON.parse(line.slice('RESULT '.length)) as LegResult);
      else reject(new Error(`leg exited with code ${code}, signal ${signal}:\n${out}`));
    });
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  const kafka = await KafkaServer.start({ heapMb: 512 });
  console.log(`Kafka ${KafkaServer.version} on ${kafka.brokers.join(',')} in ${Date.now() - started} ms`);
  const admin = new Kafka({ clientId: 'bench', brokers: kafka.brokers, logLevel: logLevel.WARN }).admin();
  const rows: string[] = [];
  try {
    await admin.connect();
    for (const [i, leg] of LEGS.entries()) {
      const topic = `deribit-trades-bench-${i}-${Date.now()}`;
      const loadBefore = loadavg()[0];
      const r = await runLeg(leg.nodeFlags, kafka.brokers.join(','), topic);
      const inTopic = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
      const check = inTopic === r.produced ? 'match' : `MISMATCH (${inTopic} in topic)`;
      if (inTopic !== r.produced) process.exitCode = 1;
      const row =
        `| ${leg.name} | ${r.rate.toLocaleString('en-US')} | ${r.cpuPerTradeUs.toFixed(1)} µs ` +
        `(~${Math.round(1e6 / r.cpuPerTradeUs).toLocaleString('en-US')}/s per busy core) | ${r.cpuPercent.toFixed(0)} % ` +
        `| ${r.produced.toLocaleString('en-US')}, ${check} | ${loadBefore.toFixed(1)} → ${loadavg()[0].toFixed(1)} |`;
      rows.push(row);
      console.log(`${leg.name}: ${r.rate.toLocaleString('en-US')} trades/s`);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
    await kafka.stop();
  }
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // not a git checkout
  }
  console.log('');
  console.log(
    `replay-to-Kafka, ${seconds} s after ${warmup} s warm-up per leg, ${args.batch} trades per publish, 4 partitions, ` +
      `acks=all, idempotent; nproc ${cpus().length}, node ${process.version}, commit ${commit}, ${new Date().toISOString()}`,
  );
  console.log('');
  console.log('| leg | trades/s | app CPU per trade | app CPU | produced, in topic | load average |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const row of rows) console.log(row);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
