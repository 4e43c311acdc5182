import { TradeStatsWindow } from './market/trade-stats-window.entity';

/**
 * TypeORM entities of the DataSource. The user-tag stores run their hot-path SQL on the pool
 * (sql-pool.ts) and need none; the market read side is plain CRUD, which is what an entity and its
 * Repository are for.
 */
export const ENTITIES = [TradeStatsWindow];
