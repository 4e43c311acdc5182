import { ClientKafka, ServerKafka } from '@nestjs/microservices';
import { MessagingTransport, MessagingTransportContext } from '../messaging.transport';
import { restoreTraceContext } from '../nest/trace-context.hook';
import { KafkaDeadLetterSink } from './kafka-dead-letter.sink';
import { KafkaMessageConsumer } from './kafka-message.consumer';
import { KafkaMessagePublisher } from './kafka-message.publisher';
import { KafkaOptionsFactory } from './kafka-options.factory';
import { ensureTopics } from './kafka-topic.admin';
import { KafkaTopicReader } from './kafka-topic.reader';
import { KafkaTransactionalPublisher } from './kafka-transactional.publisher';

/**
 * The messaging ports on kafkajs, with Nest's ServerKafka and ClientKafka for the same topics. Start-up
 * creates the topics (and their `.dlq`) when missing, connects the publisher and registers the
 * transactional id when one is configured; failing that, it names KAFKA_BROKERS.
 */
export function kafkaTransport(context: MessagingTransportContext): MessagingTransport {
  const { app, config, serde, topics, transactionalId } = context;
  const options = new KafkaOptionsFactory(config, app);
  const deadLetters = new KafkaDeadLetterSink(options.kafka('dlq'), options);
  const publisher = KafkaMessagePublisher.fromOptions(options, serde);
  const consumer = new KafkaMessageConsumer(options.kafka('consumer'), options, serde, deadLetters);
  const transactional = new KafkaTransactionalPublisher(
    options.kafka('tx'),
    options,
    serde,
    transactionalId ?? options.defaultTransactionalId(),
  );
  const reader = new KafkaTopicReader(options.kafka('reader'), serde, {
    consumerConfig: (groupId) => options.consumerConfig(groupId, { maxWaitTimeInMs: 100 }),
    groupPrefix: `${options.clientId}-read`,
    partitions: config.KAFKA_TOPIC_PARTITIONS,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
  });
  const brokers = config.KAFKA_BROKERS.join(',');
  return {
    publisher,
    consumer,
    transactional,
    reader,
    deadLetters,
    async start() {
      try {
        await ensureTopics(
          options.kafka('admin'),
          topics.map((t) => t.name),
          { partitions: config.KAFKA_TOPIC_PARTITIONS, replicationFactor: config.KAFKA_REPLICATION_FACTOR },
        );
        await publisher.connect();
        if (transactionalId !== undefined) await transactional.connect();
      } catch (err) {
        throw new Error(`Kafka at ${brokers} (KAFKA_BROKERS) is not usable: ${(err as Error).message}`, {
          cause: err,
        });
      }
    },
    checkReady() {
      if (!publisher.isReady()) throw new Error(`not connected to Kafka (${brokers})`);
    },
    async close() {
      await consumer.close();
      await publisher.close();
      await transactional.close();
      await deadLetters.close();
    },
    nestServer(groupId, { fromBeginning }) {
      const server = new ServerKafka(options.nestServerOptions(groupId, serde, topics, deadLetters, fromBeginning));
      server.setOnProcessingStartHook(restoreTraceContext);
      return server;
    },
    nestClient() {
      return new ClientKafka(options.nestClientOptions(serde, topics));
    },
  };
}
