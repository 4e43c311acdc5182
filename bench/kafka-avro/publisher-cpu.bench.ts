/**
 * What one-value publish calls at a steady rate (the gateway's pattern: one tag per HTTP request) cost
 * the publishing process and the broker, phase after phase from a fresh broker: the first phases show the
 * JVM's and V8's warm-up (JIT compilation), the later ones the steady state. A real single-node broker
 * started for the run; KafkaMessagePublisher as the gateway configures it.
 *
 *   npx tsx bench/kafka-avro/publisher-cpu.bench.ts [--rate 5000] [--phases 5] [--phase-seconds 15] [--linger 1]
 *
 * Bounded: phases × phase-seconds, plus the broker's start and stop.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  defaultSchemaCatalog,
  ensureTopics,
  KafkaMessagePublisher,
  KafkaOptionsFactory,
  MessagingConfig,
  SingleObjectSerde,
  userTagsTopic,
} from '@lib/kafka-avro';
import { sampleUserTag } from '../../libs/kafka-avro/src/testing/sample-values';
import { KafkaServer } from '../../scripts/servers/kafka-server';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    phases: { type: 'string', default: '5' },
    'phase-seconds': { type: 'string', default: '15' },
    linger: { type: 'string', default: '1' },
  },
});
const rate = Number(args.rate);
const phases = Number(args.phases);
const phaseMs = Number(args['phase-seconds']) * 1_000;

/** CPU seconds of the broker (a JVM child of this process running kafka.Kafka), from /proc. */
function brokerCpu(): number {
  let cpu = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka'))
        continue;
      cpu += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // The process ended meanwhile.
    }
  }
  return cpu;
}

const ownCpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function main(): Promise<void> {
  setTimeout(
    () => {
      console.error('publisher-cpu bench: deadline reached');
      process.exit(3);
    },
    phases * phaseMs + 120_000,
  ).unref();
  const kafka = await KafkaServer.start({ heapMb: 512 });
  try {
    const config: MessagingConfig = {
      TRANSPORT: 'kafka',
      KAFKA_BROKERS: kafka.brokers,
      KAFKA_CLIENT_ID: 'bench',
      KAFKA_CONNECTION_TIMEOUT_MS: 3_000,
      KAFKA_REQUEST_TIMEOUT_MS: 30_000,
      KAFKA_SESSION_TIMEOUT_MS: 10_000,
      KAFKA_TOPIC_PARTITIONS: 4,
      KAFKA_REPLICATION_FACTOR: 1,
      SCHEMA_REGISTRY_URL: undefined,
      TOPIC_USER_TAGS: 'user-tags',
      TOPIC_DERIBIT_TRADES: 'deribit-trades',
      TOPIC_TRADE_STATS: 'deribit-trade-stats',
      OTEL_EXPORTER_ENABLED: false,
      KAFKA_LINGER_MS: Number(args.linger),
      KAFKA_BATCH_MAX_MESSAGES: 2_000,
      KAFKA_PRODUCE_TIMEOUT_MS: 5_000,
    };
    const options = new KafkaOptionsFactory(config, 'bench');
    const topic = userTagsTopic('publisher-cpu');
    await ensureTopics(options.kafka('admin'), [topic.name], { partitions: 4, replicationFactor: 1 });
    const publisher = KafkaMessagePublisher.fromOptions(options, new SingleObjectSerde(defaultSchemaCatalog()));
    await publisher.connect();
    const tags = Array.from({ length: 10_000 }, (_, i) => sampleUserTag(i, { cookie: `cookie-${i % 5_000}` }));
    let sent = 0;
    let failed = 0;
    for (let phase = 1; phase <= phases; phase++) {
      const [broker0, own0, requests0] = [brokerCpu(), ownCpu(), publisher.requestCount];
      const start = performance.now();
      let n = 0;
      while (performance.now() - start < phaseMs) {
        const wait = start + (n * 1_000) / rate - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        publisher.publish(topic, [tags[sent++ % tags.length]]).catch(() => failed++);
        n++;
      }
      await new Promise((r) => setTimeout(r, 100));
      const per = (s: number): string => ((s * 1e6) / n).toFixed(1);
      console.log(
        `phase ${phase} (${((phase - 1) * phaseMs) / 1_000}-${(phase * phaseMs) / 1_000} s): ${n} publishes, ` +
          `${publisher.requestCount - requests0} produce requests; CPU µs per message: broker ${per(brokerCpu() - broker0)}, ` +
          `publisher process ${per(ownCpu() - own0)}; ${failed} failed so far`,
      );
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
