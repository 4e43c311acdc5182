import { PipelineConfig } from '@lib/config';
import { KafkaAvroModule, userTagsTopic } from '@lib/kafka-avro';
import { PersistenceModule } from '@lib/persistence';
import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { MinuteCubeAggregator, aggregatorMetrics } from './aggregates/minute-cube.aggregator';
import { RetentionJob, retentionMetrics } from './aggregates/retention.job';
import { ProfilesConsumer, profileMetrics } from './profiles/profiles.consumer';
import { userTagsTopicProvider } from './user-tags.topic';

/**
 * The pipeline as a module, without process concerns, so the embedded mode can compose it with the
 * other apps in one process: two consumer groups on user tags (profiles; minute aggregates, exactly
 * once into PostgreSQL) and the retention job.
 */
@Module({})
export class PipelineModule {
  static register(config: PipelineConfig, opts: { messaging?: boolean } = {}): DynamicModule {
    return {
      module: PipelineModule,
      imports: [
        ...(opts.messaging === false
          ? []
          : [KafkaAvroModule.forRoot({ app: 'pipeline', config, topics: [userTagsTopic(config.TOPIC_USER_TAGS)] })]),
        PersistenceModule.forRoot(config),
        ScheduleModule.forRoot(),
      ],
      providers: [
        { provide: PipelineConfig, useValue: config },
        userTagsTopicProvider,
        ProfilesConsumer,
        MinuteCubeAggregator,
        RetentionJob,
        ...profileMetrics,
        ...aggregatorMetrics,
        ...retentionMetrics,
      ],
      exports: [PipelineConfig],
    };
  }
}
