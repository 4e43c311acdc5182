import { Logger } from '@nestjs/common';
import { TradeSourceEvent } from '@lib/domain';
import { RawProducerMetrics } from './raw-producer.metrics';

/** Warnings about malformed input logged per window; the rest are counted, then summarised. */
const MALFORMED_LOGS_PER_WINDOW = 20;
const WINDOW_MS = 60_000;

/** Turns a source's events into metrics and log lines, so sources themselves neither log nor count. */
export class SourceEventsReporter {
  private windowStart = 0;
  private loggedInWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly metrics: RawProducerMetrics,
    private readonly logger = new Logger('TradeSource'),
  ) {}

  report(e: TradeSourceEvent): void {
    switch (e.type) {
      case 'connected':
        this.logger.log(`connected to ${e.detail}`);
        return;
      case 'subscribed':
        this.logger.log(
          e.pass !== undefined && e.pass > 0
            ? `replay pass ${e.pass} of ${e.channels.join(', ')}`
            : `subscribed to ${e.channels.join(', ')}`,
        );
        if (e.notSubscribed !== undefined)
          this.logger.warn(`the server did not subscribe to ${e.notSubscribed.join(', ')}`);
        return;
      case 'disconnected':
        this.logger.warn(`disconnected: ${e.reason}`);
        return;
      case 'reconnecting':
        this.metrics.reconnects.inc();
        this.logger.log(`reconnecting in ${e.delayMs} ms (attempt ${e.attempt})`);
        return;
      case 'malformed':
        this.metrics.malformed.inc({ what: e.what });
        this.warnThrottled(`malformed ${e.what} skipped (${e.reason}): ${e.sample}`);
        return;
      case 'rpc-error':
        this.metrics.rpcErrors.inc({ code: String(e.code) });
        this.logger.error(
          `JSON-RPC error ${e.code} ${e.message}${e.method !== undefined ? ` on ${e.method}` : ''}${e.hint !== undefined ? `: ${e.hint}` : ''}`,
        );
        return;
      case 'heartbeat':
        this.metrics.heartbeats.inc();
        this.logger.debug('answered test_request');
        return;
      case 'finished':
        this.logger.log('source finished: no more trades will come');
        return;
    }
  }

  private warnThrottled(message: string): void {
    const now = Date.now();
    if (now - this.windowStart >= WINDOW_MS) {
      if (this.suppressed > 0)
        this.logger.warn(`${this.suppressed} more malformed inputs in the last minute (see deribit_malformed_total)`);
      this.windowStart = now;
      this.loggedInWindow = 0;
      this.suppressed = 0;
    }
    if (this.loggedInWindow < MALFORMED_LOGS_PER_WINDOW) {
      this.loggedInWindow++;
      this.logger.warn(message);
    } else {
      this.suppressed++;
    }
  }
}
