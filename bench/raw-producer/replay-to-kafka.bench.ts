/**
 * Replay-to-Kafka rate of raw-producer: the app as main.ts composes it (TRANSPORT=kafka, Avro, acks=all,
 * idempotent producer), replaying the shipped recording in a loop as fast as it can, into a real
 * single-node Kafka broker started for the run (scripts/servers/kafka-server.ts). Prints trades/s measured
 * on the app's produced counter (acknowledged writes) after a warm-up, and checks that the topic holds
 * exactly what the app says it produced.
 *
 *   npx tsx bench/raw-producer/replay-to-kafka.bench.ts [--seconds 20] [--warmup 5] [--batch 2000]
 *
 * Bounded: the broker is stopped and the process exits within seconds + warm-up + ~60 s of start-up.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { loadConfig, rawProducerConfigSchema } from '@lib/config';
import { deribitTradesTopic, KafkaAvroModule } from '@lib/kafka-avro';
import { Kafka, logLevel } from 'kafkajs';
import { RawProducerMetrics } from '../../apps/raw-producer/src/metrics/raw-producer.metrics';
import { rawProducerAppModule } from '../../apps/raw-producer/src/raw-producer-app.module';
import { KafkaServer } from '../../scripts/servers/kafka-server';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    batch: { type: 'string', default: '2000' },
  },
});
const seconds = Number(args.seconds);
const warmup = Number(args.warmup);
const batch = Number(args.batch);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function produced(metrics: RawProducerMetrics): Promise<number> {
  return (await metrics.produced.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function main(): Promise<void> {
  const limit = setTimeout(
    () => {
      console.error('bench: hard time limit reached, exiting');
      process.exit(2);
    },
    (seconds + warmup + 120) * 1_000,
  );
  limit.unref();

  const started = Date.now();
  const kafka = await KafkaServer.start({ heapMb: 512 });
  console.log(`Kafka ${KafkaServer.version} on ${kafka.brokers.join(',')} in ${Date.now() - started} ms`);
  try {
    const topic = `deribit-trades-bench-${Date.now()}`;
    const config = loadConfig('raw-producer', rawProducerConfigSchema, {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: kafka.brokers.join(','),
      KAFKA_TOPIC_PARTITIONS: '4',
      KAFKA_BATCH_MAX_MESSAGES: String(batch),
      TOPIC_DERIBIT_TRADES: topic,
      TRADE_SOURCE: 'replay',
      REPLAY_SPEED: '1000000',
      REPLAY_LOOP: 'true',
      LOG_LEVEL: 'warn',
    });
    const messaging = KafkaAvroModule.forRoot({ app: 'raw-producer', config, topics: [deribitTradesTopic(topic)] });
    const app = await NestFactory.createApplicationContext(rawProducerAppModule(config, messaging), {
      logger: ['error', 'warn'],
    });
    await app.init();
    const metrics = app.get(RawProducerMetrics);

    await sleep(warmup * 1_000);
    const from = await produced(metrics);
    const t0 = Date.now();
    const cpu0 = process.cpuUsage();
    await sleep(seconds * 1_000);
    const to = await produced(metrics);
    const elapsed = (Date.now() - t0) / 1_000;
    const cpu = process.cpuUsage(cpu0);
    await app.close();

    const total = await produced(metrics);
    const admin = new Kafka({ clientId: 'bench', brokers: kafka.brokers, logLevel: logLevel.WARN }).admin();
    await admin.connect();
    const inTopic = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
    await admin.disconnect();

    const rate = Math.round((to - from) / elapsed);
    const appCpu = ((cpu.user + cpu.system) / 1e6 / elapsed) * 100;
    let commit = 'unknown';
    try {
      commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
    } catch {
      // not a git checkout
    }
    console.log('');
    console.log(
      `replay-to-Kafka: ${rate.toLocaleString('en-US')} trades/s over ${elapsed.toFixed(1)} s (after ${warmup} s warm-up)`,
    );
    console.log(`  batch ${batch} trades/publish, 4 partitions, acks=all, idempotent, Avro single-object`);
    const cpuPerTrade = (cpu.user + cpu.system) / Math.max(1, to - from);
    console.log(
      `  app process CPU ${appCpu.toFixed(0)} % of one core, ${cpuPerTrade.toFixed(1)} µs per trade ` +
        `(one busy core: ~${Math.round(1e6 / cpuPerTrade).toLocaleString('en-US')} trades/s); broker on the same machine`,
    );
    console.log(
      `  load average at the end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(`  produced ${total}, in topic ${inTopic}: ${total === inTopic ? 'match' : 'MISMATCH'}`);
    console.log(
      `  machine: nproc ${cpus().length}, node ${process.version}, commit ${commit}, ${new Date().toISOString()}`,
    );
    if (total !== inTopic) process.exitCode = 1;
  } finally {
    await kafka.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
