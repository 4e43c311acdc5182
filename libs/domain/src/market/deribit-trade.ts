/** One trade of a Deribit `trades.*` subscription notification, field for field. */
export interface DeribitTrade {
  /** Sequence number of the trade within its instrument; gaps mean missed trades. */
  trade_seq: number;
  /** Unique id of the trade (a string in Deribit's API). */
  trade_id: string;
  /** Epoch milliseconds. */
  timestamp: number;
  /** 0 plus tick, 1 zero-plus tick, 2 minus tick, 3 zero-minus tick. */
  tick_direction: number;
  price: number;
  mark_price: number;
  index_price: number;
  instrument_name: string;
  direction: 'buy' | 'sell';
  /** Amount in USD for perpetuals and inverse futures, in base currency otherwise. */
  amount: number;
  contracts?: number | null;
  /** Implied volatility, options only. */
  iv?: number | null;
  /** Which side was liquidated: maker, taker or both. */
  liquidation?: 'M' | 'T' | 'MT' | null;
  block_trade_id?: string | null;
  block_trade_leg_count?: number | null;
  combo_id?: string | null;
  combo_trade_id?: number | null;
}

export const TRADE_DIRECTIONS = ['buy', 'sell'] as const;
export const LIQUIDATION_SIDES = ['M', 'T', 'MT'] as const;
