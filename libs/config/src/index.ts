export * from './load-config';
export * from './schemas/gateway.config';
export * from './schemas/pipeline.config';
export * from './schemas/raw-producer.config';
export * from './schemas/agg-producer.config';
