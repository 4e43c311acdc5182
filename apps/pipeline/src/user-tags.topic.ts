import { PipelineConfig } from '@lib/config';
import { UserTag } from '@lib/domain';
import { TopicSpec } from '@lib/kafka-avro/messaging';
import { Provider } from '@nestjs/common';

export const USER_TAGS_TOPIC = Symbol('USER_TAGS_TOPIC');

export const userTagsTopicProvider: Provider = {
  provide: USER_TAGS_TOPIC,
  inject: [PipelineConfig],
  useFactory: (config: PipelineConfig): TopicSpec<UserTag> => ({
    name: config.TOPIC_USER_TAGS,
    schemaName: 'analytics.UserTag',
    key: (tag) => tag.cookie,
  }),
};
