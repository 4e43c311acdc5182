import { PipelineConfig } from '@lib/config';
import { userTagsTopic } from '@lib/kafka-avro';
import { Provider } from '@nestjs/common';

export const USER_TAGS_TOPIC = Symbol('USER_TAGS_TOPIC');

export const userTagsTopicProvider: Provider = {
  provide: USER_TAGS_TOPIC,
  inject: [PipelineConfig],
  useFactory: (config: PipelineConfig) => userTagsTopic(config.TOPIC_USER_TAGS),
};
