/**
 * Produce and consume rates of user tags through a real single-node Kafka broker started for the run
 * (scripts/servers/kafka-server.ts), with the library's KafkaMessagePublisher (Avro, idempotent,
 * acks=all, coalescing) and KafkaMessageConsumer (eachBatch, decode, commit per batch):
 *
 *  1. bulk produce: `--messages` tags in publish calls of `--batch` values, 8 calls at a time (raw-producer-like),
 *     at most `--request-max` messages per produce request (KAFKA_BATCH_MAX_MESSAGES);
 *  2. catch-up consume: a new group reads them all from the beginning (pipeline catch-up);
 *  3. live: `--seconds` of one-tag publish calls arriving at `--rate` per second, open loop (gateway-like),
 *     with a consumer running: publish latency (call to ack) and produce-to-consume latency percentiles.
 *
 *   npx tsx bench/kafka-avro/produce-consume.bench.ts [--messages 200000] [--seconds 15] [--rate 5000] [--partitions 4] [--batch 1000] [--request-max 2000]
 *
 * Bounded: each phase stops at its count or its time limit, and the whole run exits (broker stopped)
 * within a hard limit of a few minutes.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { UserTag } from '@lib/domain';
import {
  defaultSchemaCatalog,
  ensureTopics,
  KafkaMessageConsumer,
  KafkaMessagePublisher,
  KafkaOptionsFactory,
  SingleObjectSerde,
  userTagsTopic,
} from '@lib/kafka-avro';
import { KafkaDeadLetterSink } from '../../libs/kafka-avro/src/kafka/kafka-dead-letter.sink';
import { sampleUserTag } from '../../libs/kafka-avro/src/testing/sample-values';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { benchMessagingConfig, cpuSeconds } from './bench-broker';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    seconds: { type: 'string', default: '15' },
    rate: { type: 'string', default: '5000' },
    partitions: { type: 'string', default: '4' },
    batch: { type: 'string', default: '1000' },
    'request-max': { type: 'string', default: '2000' },
  },
});
const total = Number(args.messages);
const liveSeconds = Number(args.seconds);
const rate = Number(args.rate);
const partitions = Number(args.partitions);
const PHASE_LIMIT_MS = 120_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** CPU used per message since `before`, in microseconds, for the client and the broker. */
function cpuPerMessage(before: { client: number; broker: number }, messages: number): string {
  const now = cpuSeconds();
  const us = (s: number): string => ((s * 1e6) / Math.max(1, messages)).toFixed(1);
  return `CPU per message: client ${us(now.client - before.client)} µs, broker ${us(now.broker - before.broker)} µs`;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function latencies(name: string, values: number[]): string {
  values.sort((a, b) => a - b);
  return `${name}: p50 ${percentile(values, 50).toFixed(1)} ms, p99 ${percentile(values, 99).toFixed(1)} ms, max ${values[values.length - 1]?.toFixed(1)} ms (n=${values.length})`;
}

async function main(): Promise<void> {
  const limit = setTimeout(
    () => {
      console.error('bench: hard time limit reached, exiting');
      process.exit(2);
    },
    3 * PHASE_LIMIT_MS + liveSeconds * 1_000 + 60_000,
  );
  limit.unref();

  let nproc = String(cpus().length);
  try {
    nproc = execSync('nproc').toString().trim();
  } catch {
    // nproc is from coreutils; the os module's count is the fallback.
  }
  const started = Date.now();
  const kafka = await KafkaServer.start({ heapMb: 512 });
  console.log(
    `Kafka ${KafkaServer.version} on ${kafka.brokers.join(',')} started in ${Date.now() - started} ms; node ${process.version}, nproc ${nproc}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  try {
    const config = benchMessagingConfig(kafka.brokers, {
      KAFKA_TOPIC_PARTITIONS: partitions,
      KAFKA_BATCH_MAX_MESSAGES: Number(args['request-max']),
    });
    const options = new KafkaOptionsFactory(config, 'bench');
    const serde = new SingleObjectSerde(defaultSchemaCatalog());
    const admin = options.kafka('admin');
    const bulkTopic = userTagsTopic('bench-bulk');
    const liveTopic = userTagsTopic('bench-live');
    await ensureTopics(admin, [bulkTopic.name, liveTopic.name], { partitions, replicationFactor: 1 });

    const publisher = KafkaMessagePublisher.fromOptions(options, serde);
    await publisher.connect();
    const tags = Array.from({ length: 10_000 }, (_, i) => sampleUserTag(i, { cookie: `cookie-${i % 5_000}` }));

    // 1. Bulk produce.
    {
      const perCall = Number(args.batch);
      let next = 0;
      const t0 = Date.now();
      const worker = async (): Promise<void> => {
        while (next < total && Date.now() - t0 < PHASE_LIMIT_MS) {
          const from = next;
          next += perCall;
          const values = Array.from(
            { length: Math.min(perCall, total - from) },
            (_, k) => tags[(from + k) % tags.length],
          );
          await publisher.publish(bulkTopic, values);
        }
      };
      const requestsBefore = publisher.requestCount;
      const cpuBefore = cpuSeconds();
      await Promise.all(Array.from({ length: 8 }, worker));
      const elapsed = (Date.now() - t0) / 1_000;
      const sent = Math.min(next, total);
      console.log(
        `1. bulk produce: ${fmt(sent)} tags in ${elapsed.toFixed(2)} s = ${fmt(sent / elapsed)} tags/s acked ` +
          `(${publisher.requestCount - requestsBefore} produce requests, calls of ${perCall}, 8 in flight)`,
      );
      console.log(`   ${cpuPerMessage(cpuBefore, sent)}`);
    }

    const consumer = new KafkaMessageConsumer(
      options.kafka('consumer'),
      options,
      serde,
      new KafkaDeadLetterSink(options.kafka('dlq'), options),
    );

    // 2. Catch-up consume.
    {
      let consumed = 0;
      let firstAt = 0;
      const cpuBefore = cpuSeconds();
      const t0 = Date.now();
      const handle = await consumer.start<UserTag>({
        groupId: 'bench-catch-up',
        topic: bulkTopic,
        fromBeginning: true,
        partitionsConsumedConcurrently: partitions,
        onBatch: async (batch) => {
          if (firstAt === 0) firstAt = Date.now();
          consumed += batch.messages.length;
        },
      });
      while (consumed < total && Date.now() - t0 < PHASE_LIMIT_MS) await sleep(20);
      const done = Date.now();
      await handle.stop();
      const elapsed = (done - firstAt) / 1_000;
      console.log(
        `2. catch-up consume: ${fmt(consumed)} tags decoded in ${elapsed.toFixed(2)} s after the first batch = ${fmt(consumed / elapsed)} tags/s ` +
          `(group join ${firstAt - t0} ms before that)`,
      );
      console.log(`   ${cpuPerMessage(cpuBefore, consumed)}`);
    }

    // 3. Live: one-tag publish calls arriving at a fixed rate (as HTTP requests would), consumed as they arrive.
    {
      const publishLatency: number[] = [];
      const endToEnd: number[] = [];
      let consumed = 0;
      const handle = await consumer.start<UserTag>({
        groupId: 'bench-live',
        topic: liveTopic,
        fromBeginning: false,
        partitionsConsumedConcurrently: partitions,
        onBatch: async (batch) => {
          const now = performance.timeOrigin + performance.now();
          for (const m of batch.messages) endToEnd.push(now - Number(m.headers['x-sent-at']));
          consumed += batch.messages.length;
        },
      });
      await sleep(1_000);
      let sent = 0;
      let acked = 0;
      let failed = 0;
      const inFlight = new Set<Promise<void>>();
      const publishOne = (): void => {
        const sentAt = performance.timeOrigin + performance.now();
        const call = publisher
          .publish(liveTopic, [tags[sent % tags.length]], { headers: { 'x-sent-at': String(sentAt) } })
          .then(
            () => {
              publishLatency.push(performance.timeOrigin + performance.now() - sentAt);
              acked += 1;
            },
            () => {
              failed += 1;
            },
          )
          .finally(() => inFlight.delete(call));
        inFlight.add(call);
        sent += 1;
      };
      const requestsBefore = publisher.requestCount;
      const cpuBefore = cpuSeconds();
      const t0 = performance.now();
      // Every millisecond, catch up with the schedule: `rate` calls per second, open loop.
      while (performance.now() - t0 < liveSeconds * 1_000) {
        const due = Math.floor(((performance.now() - t0) / 1_000) * rate);
        while (sent < due) publishOne();
        await sleep(1);
      }
      await Promise.all(inFlight);
      const elapsed = (performance.now() - t0) / 1_000;
      const requests = publisher.requestCount - requestsBefore;
      const deadline = Date.now() + 10_000;
      while (consumed < acked && Date.now() < deadline) await sleep(20);
      await handle.stop();
      console.log(
        `3. live, one-tag calls at ${fmt(rate)}/s offered: ${fmt(acked / elapsed)} publishes/s acked (${fmt(acked)} in ${elapsed.toFixed(1)} s, ` +
          `${failed} failed, ${fmt(requests)} produce requests = ${(acked / Math.max(1, requests)).toFixed(1)} tags per request), ${fmt(consumed)} consumed`,
      );
      console.log(`   ${cpuPerMessage(cpuBefore, acked)} (produce and consume)`);
      console.log(`   ${latencies('publish call to ack', publishLatency)}`);
      console.log(`   ${latencies('publish call to onBatch', endToEnd)}`);
    }
    await publisher.close();
  } finally {
    await kafka.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
