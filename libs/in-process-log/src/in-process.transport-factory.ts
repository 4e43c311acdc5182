import { MessagingTransport, MessagingTransportFactory } from '@lib/kafka-avro/messaging.transport';
import { InMemoryBroker, sharedInMemoryBroker } from './in-memory.broker';
import { InMemoryDeadLetterSink, InProcessMessageConsumer } from './in-process-message.consumer';
import { InProcessMessagePublisher } from './in-process-message.publisher';
import { InProcessTopicReader } from './in-process-topic.reader';
import { InProcessTransactionalPublisher } from './in-process-transactional.publisher';
import { InProcessClient } from './nest/in-process.client';
import { InProcessTransport } from './nest/in-process.transport';

/** A transport of the in-process log that also tells which broker it runs on (tests, the embedded mode). */
export interface InProcessMessagingTransport extends MessagingTransport {
  readonly broker: InMemoryBroker;
}

/**
 * The messaging ports and Nest's transport on the in-process log, for KafkaAvroModule's `inProcess`
 * option: `broker` (the embedded mode's durable log), or else one broker shared by the process, so
 * the apps composed in it reach each other.
 */
export function inProcessTransport(broker?: InMemoryBroker): MessagingTransportFactory {
  return ({ config, serde, topics }): InProcessMessagingTransport => {
    const log = broker ?? sharedInMemoryBroker(config.KAFKA_TOPIC_PARTITIONS);
    const deadLetters = new InMemoryDeadLetterSink(log);
    const publisher = new InProcessMessagePublisher(log, serde);
    const consumer = new InProcessMessageConsumer(log, serde, deadLetters);
    return {
      broker: log,
      publisher,
      consumer,
      transactional: new InProcessTransactionalPublisher(log, serde),
      reader: new InProcessTopicReader(log, serde),
      deadLetters,
      async start() {
        for (const topic of topics) log.createTopic(topic.name, config.KAFKA_TOPIC_PARTITIONS);
      },
      checkReady() {
        if (!publisher.isReady()) throw new Error('the in-process log is closed');
      },
      async close() {
        await consumer.close();
        publisher.close();
      },
      nestServer: (groupId, { fromBeginning }) =>
        new InProcessTransport({ broker: log, groupId, serde, topics, deadLetters, fromBeginning }),
      nestClient: () => new InProcessClient(log, serde, topics),
    };
  };
}
