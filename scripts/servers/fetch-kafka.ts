/**
 * Downloads (once) the Kafka broker jars used by the integration tests and the local stack.
 *   npx tsx scripts/servers/fetch-kafka.ts
 * Prints the jar directory. Set KAFKA_JARS_DIR to use another directory.
 */
import { ensureKafkaJars, KAFKA_VERSION, kafkaJarsComplete, kafkaJarsDir } from './kafka-jars';

async function main(): Promise<void> {
  const started = Date.now();
  const cached = kafkaJarsComplete();
  console.log(
    `Kafka ${KAFKA_VERSION} jars: ${cached ? 'already cached in' : 'fetching with Maven into'} ${kafkaJarsDir()}`,
  );
  const dir = await ensureKafkaJars();
  console.log(`Kafka ${KAFKA_VERSION} jars ready in ${dir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
