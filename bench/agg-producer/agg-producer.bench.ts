/**
 * Trades per second through agg-producer: the app's module (KafkaAvroModule + AggProducerModule, as
 * main.ts composes them) consumes a pre-filled trades topic from the beginning and aggregates it exactly
 * once (transactions with the statistics, the changelog and the offsets). Two legs:
 *
 *  1. in-process: the embedded mode's transport (Avro encoding included);
 *  2. kafka: a real single-node broker started for the run (scripts/servers/kafka-server.ts).
 *
 * The rate is counted from the first trade consumed to the last (start-up, restore and group join are
 * reported apart). Decorator metadata is needed for Nest's injection, hence @swc-node/register:
 *
 *   node -r @swc-node/register bench/agg-producer/agg-producer.bench.ts [--trades 300000] [--instruments 200] [--partitions 4] [--leg all|in-process|kafka]
 *
 * Bounded: each leg stops at its count or after --seconds, and the run exits within a hard limit.
 */
import { execSync } from 'node:child_process';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { aggProducerConfigSchema, loadConfig } from '@lib/config';
import { DeribitTrade } from '@lib/domain';
import { KafkaAvroModule, SingleObjectSerde, defaultSchemaCatalog } from '@lib/kafka-avro';
import { InMemoryBroker, inProcessTransport } from '../../libs/in-process-log/src';
import { Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { Counter, Histogram, register } from 'prom-client';
import { AggProducerModule, aggProducerMessaging } from '../../apps/agg-producer/src/agg-producer.module';
import { aggProducerTopics } from '../../apps/agg-producer/src/agg-producer.topics';
import { InProcessMessagePublisher } from '../../libs/in-process-log/src/in-process-message.publisher';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { tradeStream } from '../../test/agg-producer/support/trades';

const { values: args } = parseArgs({
  options: {
    trades: { type: 'string', default: '300000' },
    instruments: { type: 'string', default: '200' },
    partitions: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '120' },
    leg: { type: 'string', default: 'all' },
  },
});
const TOTAL = Number(args.trades);
const PARTITIONS = Number(args.partitions);
const LEG_LIMIT_MS = Number(args.seconds) * 1_000;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function counter(name: string): Promise<number> {
  const metric = register.getSingleMetric(name) as Counter | undefined;
  return (await metric?.get())?.values.reduce((sum, v) => sum + v.value, 0) ?? 0;
}

async function histogramTotals(name: string): Promise<{ count: number; sum: number }> {
  const values = (await (register.getSingleMetric(name) as Histogram | undefined)?.get())?.values ?? [];
  const pick = (suffix: string) => values.find((v) => v.metricName === `${name}_${suffix}`)?.value ?? 0;
  return { count: pick('count'), sum: pick('sum') };
}

function stream(): DeribitTrade[] {
  // 10 minutes of event time whatever the count, so windows keep closing during the run.
  const instruments = Array.from({ length: Number(args.instruments) }, (_, i) => ({
    name: `BENCH-${i}`,
    price: 100 + i,
    weight: 1 + (i % 5),
  }));
  return tradeStream({
    startMs: Date.parse('2026-03-01T00:00:00Z'),
    count: TOTAL,
    meanGapMs: 600_000 / TOTAL,
    seed: 9,
    instruments,
  });
}

async function run(leg: string, env: Record<string, string>, broker?: InMemoryBroker): Promise<void> {
  const config = loadConfig('agg-producer', aggProducerConfigSchema, { LOG_LEVEL: 'warn', ...env });
  @Module({
    imports: [
      KafkaAvroModule.forRoot({ ...aggProducerMessaging(config), inProcess: inProcessTransport(broker) }),
      AggProducerModule.register(config),
    ],
  })
  class BenchAggProducer {}

  const before = {
    consumed: await counter('agg_producer_trades_consumed_total'),
    windows: await counter('agg_producer_windows_published_total'),
    tx: await histogramTotals('agg_producer_transaction_duration_seconds'),
  };
  const filled = Date.now();
  const app = await NestFactory.createApplicationContext(BenchAggProducer, { logger: ['error', 'warn'] });
  const started = Date.now();
  let first = 0;
  let consumed = 0;
  while (consumed < TOTAL && Date.now() - started < LEG_LIMIT_MS) {
    consumed = (await counter('agg_producer_trades_consumed_total')) - before.consumed;
    if (first === 0 && consumed > 0) first = Date.now();
    await sleep(consumed > 0 ? 5 : 20);
  }
  const done = Date.now();
  await app.close();
  const windows = (await counter('agg_producer_windows_published_total')) - before.windows;
  const tx = await histogramTotals('agg_producer_transaction_duration_seconds');
  const txCount = tx.count - before.tx.count;
  const seconds = (done - first) / 1_000;
  console.log(
    `${leg}: ${fmt(consumed)} trades in ${seconds.toFixed(2)} s = ${fmt(consumed / seconds)} trades/s ` +
      `(${((done - started) / 1_000).toFixed(2)} s with start-up, restore and group join; module up in ${started - filled} ms); ` +
      `${fmt(windows)} windows published in ${fmt(txCount)} transactions, mean ${((1_000 * (tx.sum - before.tx.sum)) / Math.max(txCount, 1)).toFixed(1)} ms` +
      (consumed < TOTAL ? ` — STOPPED at the ${args.seconds} s limit` : ''),
  );
}

async function main(): Promise<void> {
  const hardLimit = setTimeout(
    () => {
      console.error('bench: hard time limit reached, exiting');
      process.exit(2);
    },
    2 * LEG_LIMIT_MS + 180_000,
  );
  hardLimit.unref();
  Logger.overrideLogger(['error', 'warn']);
  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc').toString().trim();
  } catch {
    // nproc is from coreutils; the os module's count is the fallback.
  }
  const trades = stream();
  console.log(
    `agg-producer bench: ${fmt(TOTAL)} trades, ${args.instruments} instruments, ${PARTITIONS} partitions, ` +
      `1-minute windows over 10 minutes of event time; node ${process.version}, nproc ${nproc}`,
  );
  const names = (leg: string) => ({
    TOPIC_DERIBIT_TRADES: `bench-${leg}-trades`,
    TOPIC_TRADE_STATS: `bench-${leg}-stats`,
    TOPIC_AGG_STATE: `bench-${leg}-state`,
    KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
  });

  if (args.leg === 'all' || args.leg === 'in-process') {
    const env = { TRANSPORT: 'in-process', ...names('in-process') };
    const topics = aggProducerTopics(loadConfig('agg-producer', aggProducerConfigSchema, env));
    const broker = new InMemoryBroker({ partitions: PARTITIONS, maxRecordsPerPartition: TOTAL });
    const publisher = new InProcessMessagePublisher(broker, new SingleObjectSerde(defaultSchemaCatalog()));
    for (let i = 0; i < trades.length; i += 10_000) await publisher.publish(topics.trades, trades.slice(i, i + 10_000));
    await run('in-process', env, broker);
  }

  if (args.leg === 'all' || args.leg === 'kafka') {
    const t0 = Date.now();
    const server = await KafkaServer.start({ heapMb: 512 });
    try {
      const env = { TRANSPORT: 'kafka', KAFKA_BROKERS: server.brokers.join(','), ...names('kafka') };
      const kafka = new Kafka({ clientId: 'bench', brokers: server.brokers, logLevel: logLevel.WARN });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: env.TOPIC_DERIBIT_TRADES, numPartitions: PARTITIONS, replicationFactor: 1 }],
      });
      await admin.disconnect();
      const serde = new SingleObjectSerde(defaultSchemaCatalog());
      const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
      await producer.connect();
      const p0 = Date.now();
      for (let i = 0; i < trades.length; i += 10_000) {
        const messages = [];
        for (const t of trades.slice(i, i + 10_000)) {
          messages.push({
            key: t.instrument_name,
            value: await serde.encode(env.TOPIC_DERIBIT_TRADES, 'market.DeribitTrade', t),
          });
        }
        await producer.send({ topic: env.TOPIC_DERIBIT_TRADES, acks: -1, messages });
      }
      await producer.disconnect();
      console.log(
        `kafka: broker ${KafkaServer.version} up in ${p0 - t0} ms; trades topic filled in ${Date.now() - p0} ms (not part of the rate)`,
      );
      await run('kafka', env);
    } finally {
      await server.stop();
    }
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
