/**
 * The topic against what the gateway answered, for the outage and rebalance suites: every tag answered
 * `204` must be in the topic, none twice, none foreign; other answers may only be `503 KAFKA_UNAVAILABLE`
 * (a slow shared broker: not acknowledged in time, perhaps written all the same, the gateway's documented
 * trade-off). `inTopic` is what the stores must then hold.
 */
import type { UserTag } from '@lib/domain';
import { SCHEMAS } from '@lib/kafka-avro/schemas/schema.catalog';
import { testKafkaBrokers } from '../../support/test-env';
import { TagOutcome, TagShape, tagAt, tagIndex } from './paced-tags';
import { readTopic } from './topic.reader';

export interface TopicCheck {
  ok: TagOutcome[];
  notOk: TagOutcome[];
  /** Messages read back from the topic. */
  messages: number;
  /** Tags of the topic (each once), in index order. */
  inTopic: UserTag[];
  /** Of `notOk`, those found in the topic anyway. */
  notOkWritten: number;
  /** Each a problem: a 204 not in the topic, a tag twice, a foreign message, another answer than 503 KAFKA_UNAVAILABLE. */
  problems: {
    okMissing: number[];
    duplicated: [number, number][];
    foreign: number;
    unexpectedAnswers: string[];
  };
}

export async function checkTopic(topic: string, outcomes: readonly TagOutcome[], shape: TagShape): Promise<TopicCheck> {
  const ok = outcomes.filter((o) => o.status === 204);
  const notOk = outcomes.filter((o) => o.status !== 204);
  const messages = await readTopic<UserTag>(testKafkaBrokers(), topic, SCHEMAS.userTag, 120_000);
  const copies = new Map<number, number>();
  for (const m of messages) {
    const i = tagIndex(m.value, shape);
    copies.set(i, (copies.get(i) ?? 0) + 1);
  }
  return {
    ok,
    notOk,
    messages: messages.length,
    inTopic: [...copies.keys()]
      .filter((i) => i >= 0)
      .sort((a, b) => a - b)
      .map((i) => tagAt(i, shape)),
    notOkWritten: notOk.filter((o) => copies.has(o.i)).length,
    problems: {
      okMissing: ok
        .filter((o) => !copies.has(o.i))
        .map((o) => o.i)
        .slice(0, 10),
      duplicated: [...copies].filter(([, n]) => n > 1).slice(0, 10),
      foreign: copies.get(-1) ?? 0,
      unexpectedAnswers: notOk
        .filter((o) => o.status !== 503 || o.code !== 'KAFKA_UNAVAILABLE')
        .map((o) => `#${o.i} ${o.status} ${o.code}`)
        .slice(0, 10),
    },
  };
}

/** A clean topic check's problems, for `expect(...).toEqual(NO_PROBLEMS)`. */
export const NO_PROBLEMS: TopicCheck['problems'] = { okMissing: [], duplicated: [], foreign: 0, unexpectedAnswers: [] };
