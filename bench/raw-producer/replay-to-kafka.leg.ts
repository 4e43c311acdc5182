/**
 * One leg of replay-to-kafka.bench.ts, in its own process (so each leg has its own V8 flags, heap and
 * metrics): raw-producer as main.ts composes it, TRANSPORT=kafka, replaying the shipped recording in a loop
 * as fast as it can into `--topic`. Measures the app's produced counter (acknowledged writes) over
 * `--seconds` after `--warmup`, stops the app (which writes what is buffered), and prints one JSON line.
 */
import { parseArgs } from 'node:util';
import { NestFactory } from '@nestjs/core';
import { loadConfig, rawProducerConfigSchema } from '@lib/config';
import { deribitTradesTopic, KafkaAvroModule } from '@lib/kafka-avro';
import { RawProducerMetrics } from '../../apps/raw-producer/src/metrics/raw-producer.metrics';
import { rawProducerAppModule } from '../../apps/raw-producer/src/raw-producer-app.module';

export interface LegResult {
  /** Acknowledged trades per second over the measured window. */
  rate: number;
  /** CPU time of this process (all its threads, GC helpers included) per trade, µs. */
  cpuPerTradeUs: number;
  /** CPU of this process over the window, % of one core. */
  cpuPercent: number;
  /** Trades the app counted as produced, from start to stop. */
  produced: number;
  seconds: number;
}

const { values: args } = parseArgs({
  options: {
    brokers: { type: 'string' },
    topic: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '5' },
    batch: { type: 'string', default: '2000' },
  },
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function produced(metrics: RawProducerMetrics): Promise<number> {
  return (await metrics.produced.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function main(): Promise<void> {
  if (args.brokers === undefined || args.topic === undefined) throw new Error('--brokers and --topic are required');
  const config = loadConfig('raw-producer', rawProducerConfigSchema, {
    TRANSPORT: 'kafka',
    KAFKA_BROKERS: args.brokers,
    KAFKA_TOPIC_PARTITIONS: '4',
    KAFKA_BATCH_MAX_MESSAGES: args.batch,
    TOPIC_DERIBIT_TRADES: args.topic,
    TRADE_SOURCE: 'replay',
    REPLAY_SPEED: '1000000',
    REPLAY_LOOP: 'true',
    LOG_LEVEL: 'warn',
  });
  const messaging = KafkaAvroModule.forRoot({ app: 'raw-producer', config, topics: [deribitTradesTopic(args.topic)] });
  const app = await NestFactory.createApplicationContext(rawProducerAppModule(config, messaging), {
    logger: ['error', 'warn'],
  });
  await app.init();
  const metrics = app.get(RawProducerMetrics);

  await sleep(Number(args.warmup) * 1_000);
  const from = await produced(metrics);
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  await sleep(Number(args.seconds) * 1_000);
  const to = await produced(metrics);
  const cpu = process.cpuUsage(cpu0);
  const seconds = (Date.now() - t0) / 1_000;
  await app.close();

  const cpuUs = cpu.user + cpu.system;
  const result: LegResult = {
    rate: Math.round((to - from) / seconds),
    cpuPerTradeUs: cpuUs / Math.max(1, to - from),
    cpuPercent: (cpuUs / 1e6 / seconds) * 100,
    produced: await produced(metrics),
    seconds,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
