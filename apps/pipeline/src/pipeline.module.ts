import { PipelineConfig } from '@lib/config';
import { KafkaAvroModule, userTagsTopic, userTagsTopicProvider } from '@lib/kafka-avro';
import { PersistenceModule } from '@lib/persistence';
import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { MinuteCubeAggregator } from './aggregates/minute-cube.aggregator';
import { RetentionJob } from './aggregates/retention.job';
import { ProfileRetentionJob } from './profiles/profile-retention.job';
import { ProfilesWriter } from './profiles/profiles.writer';
import { UserTagsConsumer } from './user-tags.consumer';

/**
 * The pipeline as a module, without process concerns, so the embedded mode can compose it with the
 * other apps in one process: one consumer of user tags that writes profiles and minute aggregates
 * (exactly once into PostgreSQL), and the retention job.
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
        userTagsTopicProvider(config),
        ProfilesWriter,
        MinuteCubeAggregator,
        UserTagsConsumer,
        RetentionJob,
        ProfileRetentionJob,
      ],
      exports: [PipelineConfig],
    };
  }
}
