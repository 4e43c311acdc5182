import { DeribitTrade, LIQUIDATION_SIDES, TRADE_DIRECTIONS } from '@lib/domain';
import { assertType, AvroValue, SameShape } from './avro-schema.types';

/**
 * Avro schema of one Deribit trade, version 1: every field of a `trades.*` notification. Fields
 * Deribit sends only for some instruments are nullable with a null default; they decode as null
 * when absent.
 */
export const deribitTradeSchemaV1 = {
  type: 'record',
  name: 'DeribitTrade',
  namespace: 'market',
  fields: [
    { name: 'trade_seq', type: 'long' },
    { name: 'trade_id', type: 'string' },
    { name: 'timestamp', type: { type: 'long', logicalType: 'timestamp-millis' }, doc: 'Epoch milliseconds.' },
    { name: 'tick_direction', type: 'int' },
    { name: 'price', type: 'double' },
    { name: 'mark_price', type: 'double' },
    { name: 'index_price', type: 'double' },
    { name: 'instrument_name', type: 'string' },
    { name: 'direction', type: { type: 'enum', name: 'TradeDirection', symbols: TRADE_DIRECTIONS } },
    { name: 'amount', type: 'double' },
    { name: 'contracts', type: ['null', 'double'], default: null },
    { name: 'iv', type: ['null', 'double'], default: null },
    {
      name: 'liquidation',
      type: ['null', { type: 'enum', name: 'LiquidationSide', symbols: LIQUIDATION_SIDES }],
      default: null,
    },
    { name: 'block_trade_id', type: ['null', 'string'], default: null },
    { name: 'block_trade_leg_count', type: ['null', 'int'], default: null },
    { name: 'combo_id', type: ['null', 'string'], default: null },
    { name: 'combo_trade_id', type: ['null', 'long'], default: null },
  ],
} as const;

export const DERIBIT_TRADE_SCHEMA = 'market.DeribitTrade';

assertType<SameShape<AvroValue<typeof deribitTradeSchemaV1>, DeribitTrade>>(true);
