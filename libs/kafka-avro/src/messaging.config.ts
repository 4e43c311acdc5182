import type { producerVars, transportVars } from '@lib/config/schemas/common';
import type { z } from 'zod';

/** The transport variables every app reads (libs/config `transportVars`). */
export type TransportConfig = z.infer<z.ZodObject<typeof transportVars>>;

/** Producer batching variables; apps that do not publish much (pipeline) go with the defaults. */
export type ProducerTuningConfig = z.infer<z.ZodObject<typeof producerVars>>;

/** What the messaging module reads from an app's validated config. */
export type MessagingConfig = TransportConfig & Partial<ProducerTuningConfig>;

/** Defaults of producerVars, for apps whose config does not include them. */
export const PRODUCER_DEFAULTS: ProducerTuningConfig = {
  KAFKA_LINGER_MS: 1,
  KAFKA_BATCH_MAX_MESSAGES: 2_000,
  KAFKA_PRODUCE_TIMEOUT_MS: 1_000,
};

export function producerTuning(config: MessagingConfig): ProducerTuningConfig {
  return {
    KAFKA_LINGER_MS: config.KAFKA_LINGER_MS ?? PRODUCER_DEFAULTS.KAFKA_LINGER_MS,
    KAFKA_BATCH_MAX_MESSAGES: config.KAFKA_BATCH_MAX_MESSAGES ?? PRODUCER_DEFAULTS.KAFKA_BATCH_MAX_MESSAGES,
    KAFKA_PRODUCE_TIMEOUT_MS: config.KAFKA_PRODUCE_TIMEOUT_MS ?? PRODUCER_DEFAULTS.KAFKA_PRODUCE_TIMEOUT_MS,
  };
}
