import { ConfigError, describeSchema, loadConfig, rawProducerConfigSchema } from '@lib/config';

const load = (env: Record<string, string>) => loadConfig('raw-producer', rawProducerConfigSchema, env);

function problems(env: Record<string, string>): ConfigError['problems'] {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('raw-producer config', () => {
  it('defaults to a looping replay of the shipped sample, with back-fill on', () => {
    expect(load({})).toMatchObject({
      TRADE_SOURCE: 'replay',
      REPLAY_FILE: 'apps/raw-producer/recordings/sample.ndjson',
      REPLAY_SPEED: 1,
      REPLAY_LOOP: true,
      DERIBIT_HEARTBEAT_INTERVAL_S: 10,
      BACKFILL_ENABLED: true,
    });
  });

  it('refuses a heartbeat interval below Deribit’s minimum of 10 s', () => {
    expect(problems({ DERIBIT_HEARTBEAT_INTERVAL_S: '5' })).toEqual([
      { variable: 'DERIBIT_HEARTBEAT_INTERVAL_S', got: '5', expects: 'an integer from 10 to 3600' },
    ]);
  });

  it('asks for credentials when a live source subscribes to raw channels', () => {
    const [problem] = problems({
      TRADE_SOURCE: 'live',
      DERIBIT_CHANNELS: 'trades.BTC-PERPETUAL.raw,trades.ETH-PERPETUAL.100ms',
    });
    expect(problem.variable).toBe('DERIBIT_CHANNELS');
    expect(problem.expects).toContain('trades.BTC-PERPETUAL.raw');
    expect(problem.expects).toContain('DERIBIT_CLIENT_ID');
    expect(
      load({
        TRADE_SOURCE: 'live',
        DERIBIT_CHANNELS: 'trades.BTC-PERPETUAL.raw',
        DERIBIT_CLIENT_ID: 'id',
        DERIBIT_CLIENT_SECRET: 'secret',
      }).DERIBIT_CHANNELS,
    ).toEqual(['trades.BTC-PERPETUAL.raw']);
  });

  it('wants backoff caps not below their bases, and credentials in pairs', () => {
    expect(
      problems({
        DERIBIT_RECONNECT_BASE_MS: '1000',
        DERIBIT_RECONNECT_MAX_MS: '500',
        PUBLISH_RETRY_BASE_MS: '200',
        PUBLISH_RETRY_MAX_MS: '100',
        DERIBIT_CLIENT_ID: 'id',
      }).map((p) => p.variable),
    ).toEqual(['DERIBIT_CLIENT_SECRET', 'DERIBIT_RECONNECT_MAX_MS', 'PUBLISH_RETRY_MAX_MS']);
  });

  it('rejects channels that are not trade channels', () => {
    expect(problems({ DERIBIT_CHANNELS: 'book.BTC-PERPETUAL.100ms' }).map((p) => p.variable)).toEqual([
      'DERIBIT_CHANNELS',
    ]);
  });

  it('documents every variable', () => {
    expect(
      describeSchema(rawProducerConfigSchema)
        .filter((d) => d.doc === '')
        .map((d) => d.variable),
    ).toEqual([]);
  });
});
