import { RawProducerConfig } from '@lib/config';
import { TradeSource } from '@lib/domain';
import { DeribitLiveSource } from './source/deribit-live.source';
import { NdjsonReplaySource } from './source/ndjson-replay.source';

/** The TradeSource adapter TRADE_SOURCE selects, configured from the validated config. */
export function createTradeSource(config: RawProducerConfig): TradeSource {
  if (config.TRADE_SOURCE === 'replay') {
    return new NdjsonReplaySource({ file: config.REPLAY_FILE, speed: config.REPLAY_SPEED, loop: config.REPLAY_LOOP });
  }
  return new DeribitLiveSource({
    url: config.DERIBIT_WS_URL,
    channels: config.DERIBIT_CHANNELS,
    credentials:
      config.DERIBIT_CLIENT_ID !== undefined && config.DERIBIT_CLIENT_SECRET !== undefined
        ? { clientId: config.DERIBIT_CLIENT_ID, clientSecret: config.DERIBIT_CLIENT_SECRET }
        : undefined,
    heartbeatIntervalS: config.DERIBIT_HEARTBEAT_INTERVAL_S,
    watchdogMs: config.DERIBIT_WATCHDOG_MS,
    connectTimeoutMs: config.DERIBIT_CONNECT_TIMEOUT_MS,
    rpcTimeoutMs: config.DERIBIT_RPC_TIMEOUT_MS,
    reconnectBaseMs: config.DERIBIT_RECONNECT_BASE_MS,
    reconnectMaxMs: config.DERIBIT_RECONNECT_MAX_MS,
    rateLimitBackoffMs: config.DERIBIT_RATE_LIMIT_BACKOFF_MS,
  });
}
