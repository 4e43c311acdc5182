export * from './bootstrap';
export * from './platform.module';
export * from './health/readiness.registry';
export * from './metrics/http-metrics';
export * from './retry/backoff';
export * from './process/process-lock';
export * from './metrics/metric';
