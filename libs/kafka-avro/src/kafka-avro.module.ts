import { DynamicModule, Module } from '@nestjs/common';
import { MessageConsumer, MessagePublisher, TopicReader, TransactionalPublisher } from './messaging';
import { KAFKA_AVRO_OPTIONS, KafkaAvroModuleOptions, MessagingRuntime } from './messaging.runtime';
import { SchemaCatalog } from './schemas/schema.catalog';
import { AvroSerde } from './serde/avro.serde';

/**
 * Messaging for an app: MessagePublisher, MessageConsumer, TransactionalPublisher and TopicReader (plus AvroSerde,
 * SchemaCatalog and MessagingRuntime for Nest clients and servers) on the configured TRANSPORT,
 * Kafka or in-process. Global: import it once, in the root module.
 *
 *   KafkaAvroModule.forRoot({ app: 'gateway', config })
 */
@Module({})
export class KafkaAvroModule {
  static forRoot(options: KafkaAvroModuleOptions): DynamicModule {
    return {
      module: KafkaAvroModule,
      global: true,
      providers: [
        { provide: KAFKA_AVRO_OPTIONS, useValue: options },
        MessagingRuntime,
        { provide: MessagePublisher, inject: [MessagingRuntime], useFactory: (r: MessagingRuntime) => r.publisher },
        { provide: MessageConsumer, inject: [MessagingRuntime], useFactory: (r: MessagingRuntime) => r.consumer },
        {
          provide: TransactionalPublisher,
          inject: [MessagingRuntime],
          useFactory: (r: MessagingRuntime) => r.transactional,
        },
        { provide: TopicReader, inject: [MessagingRuntime], useFactory: (r: MessagingRuntime) => r.reader },
        { provide: AvroSerde, inject: [MessagingRuntime], useFactory: (r: MessagingRuntime) => r.serde },
        { provide: SchemaCatalog, inject: [MessagingRuntime], useFactory: (r: MessagingRuntime) => r.catalog },
      ],
      exports: [
        MessagingRuntime,
        MessagePublisher,
        MessageConsumer,
        TransactionalPublisher,
        TopicReader,
        AvroSerde,
        SchemaCatalog,
      ],
    };
  }
}
