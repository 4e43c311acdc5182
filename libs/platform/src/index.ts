export * from './bootstrap';
export * from './platform.module';
export * from './health/readiness.registry';
export * from './metrics/http-metrics';
