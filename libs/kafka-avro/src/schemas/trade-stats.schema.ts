import { EWMA_MODES, TradeStats } from '@lib/domain';
import { assertType, AvroValue, SameShape } from './avro-schema.types';

const epochMillis = { type: 'long', logicalType: 'timestamp-millis' } as const;

/** Avro schema of the statistics of one instrument over one window, version 1. */
export const tradeStatsSchemaV1 = {
  type: 'record',
  name: 'TradeStats',
  namespace: 'market',
  fields: [
    { name: 'instrument', type: 'string' },
    { name: 'window_start', type: epochMillis, doc: 'Inclusive, epoch ms.' },
    { name: 'window_end', type: epochMillis, doc: 'Exclusive, epoch ms.' },
    { name: 'count', type: 'long' },
    { name: 'volume', type: 'double' },
    { name: 'vwap', type: ['null', 'double'] },
    { name: 'open', type: ['null', 'double'] },
    { name: 'high', type: ['null', 'double'] },
    { name: 'low', type: ['null', 'double'] },
    { name: 'close', type: ['null', 'double'] },
    { name: 'ewma', type: ['null', 'double'] },
    {
      name: 'ewma_params',
      type: {
        type: 'record',
        name: 'EwmaParams',
        fields: [
          { name: 'mode', type: { type: 'enum', name: 'EwmaMode', symbols: EWMA_MODES } },
          { name: 'alpha', type: ['null', 'double'] },
          { name: 'span', type: ['null', 'double'] },
          { name: 'half_life_ms', type: ['null', 'long'] },
        ],
      },
    },
  ],
} as const;

/**
 * Version 2, the one written: `revision` (0 as first published; a window revised by trades that came after
 * it was published is published again under the same key with the next one) and `unrecovered_trades`
 * (trades the source lost around the window, see TradeStats). Their defaults let a version-1 record be
 * read as revision 0 with nothing known lost.
 */
export const tradeStatsSchemaV2 = {
  ...tradeStatsSchemaV1,
  fields: [
    ...tradeStatsSchemaV1.fields,
    { name: 'revision', type: 'int', default: 0, doc: 'Readers keep the highest revision of a window.' },
    {
      name: 'unrecovered_trades',
      type: 'long',
      default: 0,
      doc: "Trades the source skipped (trade_seq gap) not in this window's count, as of this revision.",
    },
  ],
} as const;

export const TRADE_STATS_SCHEMA = 'market.TradeStats';

/** The derived type has the fields with a default optional; the domain type always sets them. */
type Defaulted = 'revision' | 'unrecovered_trades';
type TradeStatsAsWritten = { [K in keyof TradeStats as K extends Defaulted ? never : K]: TradeStats[K] } & {
  revision?: number;
  unrecovered_trades?: number;
};

assertType<
  SameShape<AvroValue<typeof tradeStatsSchemaV2>, { [K in keyof TradeStatsAsWritten]: TradeStatsAsWritten[K] }>
>(true);
