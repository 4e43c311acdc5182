export * from './errors';
export * from './time/utc';
export * from './time/time-range';
export * from './time/minute-bucket';
export * from './user-tags/user-tag';
export * from './user-tags/cube-key';
export * from './market/deribit-trade';
export * from './market/trade-stats';
