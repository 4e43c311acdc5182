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
import { parseArgs } from 'node:util';
import {
  defaultSchemaCatalog,
  ensureTopics,
  KafkaMessagePublisher,
  KafkaOptionsFactory,
  SingleObjectSerde,
  userTagsTopic,
} from '@lib/kafka-avro';
import { sampleUserTag } from '../../libs/kafka-avro/src/testing/sample-values';
import { KafkaServer } from '../../scripts/servers/kafka-server';
import { benchMessagingConfig, cpuSeconds } from './bench-broker';

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

const brokerCpu = (): number => cpuSeconds().broker;
const ownCpu = (): number => cpuSeconds().client;

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
    const config = benchMessagingConfig(kafka.brokers, { KAFKA_LINGER_MS: Number(args.linger) });
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
