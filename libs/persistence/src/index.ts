export * from './persistence.config';
export * from './persistence.module';
export * from './connection/data-source.factory';
export * from './profiles/pg-profile.store';
export * from './profiles/aerospike-profile.store';
export * from './aggregates/pg-aggregate.store';
export { MIGRATIONS } from './migrations';
export * from './market/pg-trade-stats.store';
export { TradeStatsWindow } from './market/trade-stats-window.entity';
