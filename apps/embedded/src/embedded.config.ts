import {
  AggProducerConfig,
  aggProducerConfigSchema,
  bootConfig,
  GatewayConfig,
  gatewayConfigSchema,
  PipelineConfig,
  pipelineConfigSchema,
  RawProducerConfig,
  rawProducerConfigSchema,
} from '@lib/config';

/**
 * The four apps' configs, each validated from the same environment (their defaults suit this mode).
 * Variables several apps read (TRANSPORT, KAFKA_*, TOPIC_*, DATA_DIR...) so agree by construction.
 * PORT and HOST are the gateway's: its HTTP server is the only one, and serves every app's health
 * and metrics.
 */
export interface EmbeddedConfig {
  readonly gateway: GatewayConfig;
  readonly pipeline: PipelineConfig;
  readonly rawProducer: RawProducerConfig;
  readonly aggProducer: AggProducerConfig;
}

/** Loads every app's config; on a bad variable prints what to change and exits with 78, as each app does. */
export function bootEmbeddedConfig(): EmbeddedConfig {
  return {
    gateway: bootConfig('gateway', gatewayConfigSchema),
    pipeline: bootConfig('pipeline', pipelineConfigSchema),
    rawProducer: bootConfig('raw-producer', rawProducerConfigSchema),
    aggProducer: bootConfig('agg-producer', aggProducerConfigSchema),
  };
}
