import { z } from 'zod';
import { bool, doc, int, list, num, oneOf, optionalStr, secret, str } from '../env';
import { httpPort, processVars, producerVars, transportVars } from './common';

export const rawProducerConfigSchema = z
  .object({
    ...processVars,
    ...httpPort(8082),
    ...transportVars,
    ...producerVars,
    TRADE_SOURCE: doc(
      'Where trades come from: Deribit over its websocket API (live) or a recorded NDJSON file (replay)',
      oneOf(['replay', 'live'] as const, 'replay'),
    ),
    DERIBIT_WS_URL: doc(
      "Deribit's websocket JSON-RPC endpoint (test network: wss://test.deribit.com/ws/api/v2)",
      str('wss://www.deribit.com/ws/api/v2', { pattern: /^wss?:\/\/\S+$/, expects: 'a ws:// or wss:// URL' }),
    ),
    DERIBIT_CHANNELS: doc(
      'Trade channels to subscribe to; raw channels need DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET',
      list(['trades.future.BTC.100ms', 'trades.future.ETH.100ms'], {
        pattern: /^trades\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?\.(raw|100ms|agg2)$/,
        expects:
          'a comma-separated list of trades.{instrument}.{interval} or trades.{kind}.{currency}.{interval} channels',
      }),
    ),
    DERIBIT_CLIENT_ID: doc(
      'API key id: when set, the connection authenticates (public/auth, client_credentials) and uses private/subscribe',
      optionalStr(),
    ),
    DERIBIT_CLIENT_SECRET: doc('API key secret, set together with DERIBIT_CLIENT_ID', secret(optionalStr())),
    DERIBIT_HEARTBEAT_INTERVAL_S: doc(
      'Interval asked with public/set_heartbeat; Deribit then sends test_request heartbeats, answered with public/test',
      int(10, { min: 10, max: 3_600 }),
    ),
    DERIBIT_WATCHDOG_MS: doc(
      'Reconnect when nothing (trade, heartbeat, response) arrived for this long; keep it above the heartbeat interval',
      int(30_000, { min: 100, max: 3_600_000 }),
    ),
    DERIBIT_CONNECT_TIMEOUT_MS: doc(
      'Longest wait for the websocket handshake before the attempt counts as failed',
      int(10_000, { min: 100, max: 120_000 }),
    ),
    DERIBIT_RPC_TIMEOUT_MS: doc(
      'Longest wait for the answer to one JSON-RPC request (auth, heartbeat, subscribe, back-fill page)',
      int(10_000, { min: 100, max: 120_000 }),
    ),
    DERIBIT_RECONNECT_BASE_MS: doc(
      'First reconnect delay; each failed attempt doubles it (full jitter: a random delay up to that bound)',
      int(500, { min: 1, max: 600_000 }),
    ),
    DERIBIT_RECONNECT_MAX_MS: doc('Cap of the reconnect delay bound', int(30_000, { min: 1, max: 3_600_000 })),
    DERIBIT_RATE_LIMIT_BACKOFF_MS: doc(
      'Least wait before reconnecting after Deribit ended the session with error 10028 (too_many_requests)',
      int(10_000, { min: 0, max: 3_600_000 }),
    ),
    REPLAY_FILE: doc(
      'NDJSON recording replayed when TRADE_SOURCE=replay: one Deribit JSON-RPC frame per line, as received',
      str('apps/raw-producer/recordings/sample.ndjson', { expects: 'a path to an NDJSON recording' }),
    ),
    REPLAY_SPEED: doc(
      "Replay speed factor against the trades' own timestamps (1 = as recorded, 1000000 = as fast as possible)",
      num(1, { exclusiveMin: 0, max: 1_000_000 }),
    ),
    REPLAY_LOOP: doc(
      'Replay the file again at its end; each pass shifts timestamps, trade ids and trade_seq so trades stay distinct and ordered',
      bool(true),
    ),
    TRADE_DEDUPE_CAPACITY: doc(
      'How many recent trade_ids are remembered to drop duplicates (memory is bounded by this); older re-deliveries are caught by the per-instrument trade_seq watermark',
      int(10_000, { min: 1, max: 10_000_000 }),
    ),
    TRADE_RESTORE_TAIL: doc(
      "Trades read back per partition of the trades topic at start-up to restore each instrument's last trade_seq and the recent trade_ids; an instrument whose last trade lies further back is treated as new",
      int(10_000, { min: 1, max: 10_000_000 }),
    ),
    TRADE_RESTORE_TIMEOUT_MS: doc(
      'Longest time the start-up read-back of the trades topic may take (retries included) before the app fails to start',
      int(30_000, { min: 1_000, max: 600_000 }),
    ),
    BACKFILL_ENABLED: doc(
      'Fill trade_seq gaps with public/get_last_trades_by_instrument before forwarding later trades (live source only)',
      bool(true),
    ),
    BACKFILL_MAX_TRADES: doc(
      'Largest gap that is back-filled; the rest of a larger gap is reported as lost',
      int(10_000, { min: 1, max: 1_000_000 }),
    ),
    BACKFILL_TIMEOUT_MS: doc(
      "Longest time one gap's back-fill may take (retries included) while later trades of that instrument wait",
      int(30_000, { min: 100, max: 600_000 }),
    ),
    BACKFILL_RETRY_FOR_MS: doc(
      'How long trades a back-fill did not recover in time are asked for again in the background (published late when they come); 0: never',
      int(600_000, { min: 0, max: 86_400_000 }),
    ),
    SOURCE_WATERMARK_INTERVAL_MS: doc(
      "How often the source's watermark is written to the trades topic, after the trades before it (agg-producer closes windows on it); 0: never",
      int(1_000, { min: 0, max: 60_000 }),
    ),
    FORWARD_QUEUE_MAX_TRADES: doc(
      'Trades queued for Kafka beyond which the source is paused (backpressure); those held for a back-fill do not count',
      int(50_000, { min: 1, max: 10_000_000 }),
    ),
    PUBLISH_RETRY_BASE_MS: doc(
      'First delay before retrying a failed publish; doubles per attempt up to PUBLISH_RETRY_MAX_MS, never gives up while running',
      int(100, { min: 1, max: 60_000 }),
    ),
    PUBLISH_RETRY_MAX_MS: doc('Cap of the publish retry delay', int(5_000, { min: 1, max: 600_000 })),
  })
  .superRefine((c, ctx) => {
    if ((c.DERIBIT_CLIENT_ID === undefined) !== (c.DERIBIT_CLIENT_SECRET === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['DERIBIT_CLIENT_SECRET'],
        message: 'DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET set together, or neither',
      });
    }
    const raw = c.DERIBIT_CHANNELS.filter((ch) => ch.endsWith('.raw'));
    if (c.TRADE_SOURCE === 'live' && raw.length > 0 && c.DERIBIT_CLIENT_ID === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['DERIBIT_CHANNELS'],
        message: `raw channels (${raw.join(', ')}) need an authenticated connection: set DERIBIT_CLIENT_ID and DERIBIT_CLIENT_SECRET, or use the 100ms interval`,
      });
    }
    if (c.DERIBIT_RECONNECT_MAX_MS < c.DERIBIT_RECONNECT_BASE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['DERIBIT_RECONNECT_MAX_MS'],
        message: `an integer >= DERIBIT_RECONNECT_BASE_MS (${c.DERIBIT_RECONNECT_BASE_MS})`,
      });
    }
    if (c.PUBLISH_RETRY_MAX_MS < c.PUBLISH_RETRY_BASE_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['PUBLISH_RETRY_MAX_MS'],
        message: `an integer >= PUBLISH_RETRY_BASE_MS (${c.PUBLISH_RETRY_BASE_MS})`,
      });
    }
  });

export type RawProducerConfigValues = z.infer<typeof rawProducerConfigSchema>;

// The class is the DI token; the merged interface gives it the validated fields' types.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export abstract class RawProducerConfig {}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unsafe-declaration-merging
export interface RawProducerConfig extends RawProducerConfigValues {}
