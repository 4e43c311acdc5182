/**
 * Avro schema of {@link AggStateRecord}, version 1 (before issue 16's dedupe), in the style of libs/kafka-avro/src/schemas so the
 * library's catalog can adopt it. Every long here is an epoch-ms time or a count, far below 2^53.
 */
export const aggStateSchemaV1 = {
  type: 'record',
  name: 'AggStateRecord',
  namespace: 'agg',
  doc: "A changelog record of agg-producer's state; exactly one of instrument and partition is set.",
  fields: [
    { name: 'key', type: 'string' },
    {
      name: 'instrument',
      type: [
        'null',
        {
          type: 'record',
          name: 'InstrumentState',
          fields: [
            { name: 'instrument', type: 'string' },
            { name: 'partition', type: 'int' },
            { name: 'stream_time', type: 'long' },
            { name: 'next_window_start', type: 'long' },
            { name: 'ewma', type: ['null', 'double'] },
            { name: 'ewma_time', type: ['null', 'long'] },
            { name: 'carried_ewma', type: ['null', 'double'] },
            {
              name: 'open_windows',
              type: {
                type: 'array',
                items: {
                  type: 'record',
                  name: 'OpenWindow',
                  fields: [
                    { name: 'start', type: 'long' },
                    { name: 'count', type: 'long' },
                    { name: 'volume', type: 'double' },
                    { name: 'notional', type: 'double' },
                    { name: 'open', type: 'double' },
                    { name: 'open_time', type: 'long' },
                    { name: 'high', type: 'double' },
                    { name: 'low', type: 'double' },
                    { name: 'close', type: 'double' },
                    { name: 'close_time', type: 'long' },
                    { name: 'ewma', type: 'double' },
                  ],
                },
              },
            },
          ],
        },
      ],
    },
    {
      name: 'partition',
      type: [
        'null',
        {
          type: 'record',
          name: 'PartitionState',
          fields: [
            { name: 'topic', type: 'string' },
            { name: 'partition', type: 'int' },
            { name: 'next_offset', type: 'string' },
            { name: 'event_time', type: 'long' },
          ],
        },
      ],
    },
  ],
} as const;

/** Version 1's fields with `added` appended to InstrumentState's (each with a default, so older records read). */
function instrumentFieldsAdded(added: readonly unknown[]) {
  return aggStateSchemaV1.fields.map((field) =>
    field.name !== 'instrument'
      ? field
      : { ...field, type: ['null', { ...field.type[1], fields: [...field.type[1].fields, ...added] }] },
  );
}

const SEEN_SEQS = { name: 'seen_seqs', type: { type: 'array', items: 'long' }, default: [] } as const;

/**
 * Version 2: InstrumentState gains `seen_seqs`, the instrument's counted trade_seq
 * ranges (SeenSequences: `[lo0, hi0, lo1, hi1, ...]`). Its default (empty) lets a version-1 changelog be
 * read after an upgrade: the instrument then starts with no sequences remembered.
 */
export const aggStateSchemaV2 = {
  ...aggStateSchemaV1,
  doc: `${aggStateSchemaV1.doc} Version 2: the instrument's counted trade_seq ranges.`,
  fields: instrumentFieldsAdded([SEEN_SEQS]),
} as const;

/**
 * Version 3, the one written: InstrumentState gains `source_time`, the newest source watermark read for
 * the instrument (null: none yet, or a record of an earlier version), `closed_windows`, the published
 * windows a late trade may still revise (none in a record of an earlier version), and `unrecovered`, the
 * trades the source lost counted into windows not yet published (TradeStats.unrecovered_trades).
 */
export const aggStateSchemaV3 = {
  ...aggStateSchemaV1,
  doc: `${aggStateSchemaV2.doc} Version 3: the newest source watermark, the windows kept for revisions, unrecovered trades.`,
  fields: instrumentFieldsAdded([
    SEEN_SEQS,
    { name: 'source_time', type: ['null', 'long'], default: null },
    {
      name: 'closed_windows',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'ClosedWindow',
          fields: [
            { name: 'start', type: 'long' },
            { name: 'revision', type: 'int' },
            // Named in the same schema: the record of open_windows' items.
            { name: 'window', type: ['null', 'OpenWindow'] },
            { name: 'ewma', type: ['null', 'double'] },
            { name: 'unrecovered', type: 'long', default: 0 },
          ],
        },
      },
      default: [],
    },
    {
      name: 'unrecovered',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'UnrecoveredCount',
          fields: [
            { name: 'start', type: 'long' },
            { name: 'count', type: 'long' },
          ],
        },
      },
      default: [],
    },
  ]),
} as const;

export const AGG_STATE_SCHEMA = 'agg.AggStateRecord';
