import { GatewayConfig } from '@lib/config';
import { UserTag, admissibleEventTime, assertTagSize, userTagJsonSchema } from '@lib/domain';
import { MessagePublisher, TopicSpec } from '@lib/kafka-avro/messaging';
import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { RouteSchema } from '@nestjs/platform-fastify';
import { USER_TAGS_TOPIC } from '@lib/kafka-avro';

// Fastify compiles the schema once per route; the `$id` is for the OpenAPI document only.
const { $id: _id, ...bodySchema } = userTagJsonSchema;

@Controller()
export class UserTagsController {
  constructor(
    private readonly config: GatewayConfig,
    private readonly publisher: MessagePublisher,
    @Inject(USER_TAGS_TOPIC) private readonly topic: TopicSpec<UserTag>,
  ) {}

  /**
   * 204 once the tag is durably in Kafka (acks=all), keyed by cookie. A tag that fails validation
   * is never published; a tag Kafka does not acknowledge in time gets 503, never 204. A tag dated
   * more than EVENT_TIME_MAX_FUTURE_MS ahead of the clock is refused (400 TIME_IN_FUTURE), and one
   * whose JSON is over MAX_TAG_JSON_BYTES (400 TAG_TOO_LARGE): a profile record must hold 400 of them.
   */
  @Post('user_tags')
  @HttpCode(204)
  @RouteSchema({ body: bodySchema })
  async ingest(@Body() tag: UserTag): Promise<void> {
    admissibleEventTime(tag, Date.now(), this.config.EVENT_TIME_MAX_FUTURE_MS);
    assertTagSize(tag);
    await this.publisher.publish(this.topic, [tag]);
  }
}
