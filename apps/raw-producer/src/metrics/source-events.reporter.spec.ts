import { Logger } from '@nestjs/common';
import { Metric, Registry } from 'prom-client';
import { RawProducerMetrics } from './raw-producer.metrics';
import { SourceEventsReporter } from './source-events.reporter';

async function value(metric: Metric, labels: Record<string, string> = {}): Promise<number> {
  const data = await metric.get();
  return data.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value ?? 0;
}

describe('SourceEventsReporter', () => {
  let metrics: RawProducerMetrics;
  let logger: { log: jest.Mock; warn: jest.Mock; error: jest.Mock; debug: jest.Mock };
  let reporter: SourceEventsReporter;

  beforeEach(() => {
    metrics = new RawProducerMetrics(new Registry());
    logger = { log: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
    reporter = new SourceEventsReporter(metrics, logger as unknown as Logger);
  });

  it('counts reconnects, heartbeats, malformed input and RPC errors by code', async () => {
    reporter.report({ type: 'reconnecting', attempt: 1, delayMs: 10 });
    reporter.report({ type: 'reconnecting', attempt: 2, delayMs: 30 });
    reporter.report({ type: 'heartbeat' });
    reporter.report({ type: 'malformed', what: 'frame', reason: 'not JSON', sample: '{' });
    reporter.report({ type: 'malformed', what: 'trade', reason: 'price is not a number', sample: '{}' });
    reporter.report({ type: 'rpc-error', method: 'public/subscribe', code: 10028, message: 'too_many_requests' });
    expect(await value(metrics.reconnects)).toBe(2);
    expect(await value(metrics.heartbeats)).toBe(1);
    expect(await value(metrics.malformed, { what: 'frame' })).toBe(1);
    expect(await value(metrics.malformed, { what: 'trade' })).toBe(1);
    expect(await value(metrics.rpcErrors, { code: '10028' })).toBe(1);
  });

  it('logs RPC errors with their code, method and hint', () => {
    reporter.report({
      type: 'rpc-error',
      method: 'public/subscribe',
      code: 13778,
      message: 'raw_subscriptions_not_available_for_unauthorized',
      hint: 'set DERIBIT_CLIENT_ID',
    });
    expect(logger.error).toHaveBeenCalledWith(
      'JSON-RPC error 13778 raw_subscriptions_not_available_for_unauthorized on public/subscribe: set DERIBIT_CLIENT_ID',
    );
  });

  it('warns about channels the server did not subscribe to', () => {
    reporter.report({ type: 'subscribed', channels: ['a'], notSubscribed: ['b'] });
    expect(logger.warn).toHaveBeenCalledWith('the server did not subscribe to b');
  });

  it('logs a flood of malformed input only so often, and counts all of it', async () => {
    for (let i = 0; i < 100; i++)
      reporter.report({ type: 'malformed', what: 'frame', reason: 'not JSON', sample: 'x' });
    expect(logger.warn).toHaveBeenCalledTimes(20);
    expect(await value(metrics.malformed, { what: 'frame' })).toBe(100);
  });
});
