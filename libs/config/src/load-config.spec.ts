import { ConfigError, bootConfig, describeSchema, loadConfig } from './load-config';
import { aggProducerConfigSchema } from './schemas/agg-producer.config';
import { gatewayConfigSchema } from './schemas/gateway.config';
import { pipelineConfigSchema } from './schemas/pipeline.config';
import { rawProducerConfigSchema } from './schemas/raw-producer.config';

const schemas = {
  gateway: gatewayConfigSchema,
  pipeline: pipelineConfigSchema,
  'raw-producer': rawProducerConfigSchema,
  'agg-producer': aggProducerConfigSchema,
};

function problemsOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it.each(Object.entries(schemas))('%s starts with no variables set (embedded defaults)', (app, schema) => {
    const config = loadConfig(app, schema, {});
    expect(config.TRANSPORT).toBe('in-process');
    expect(config.HOST).toBe('127.0.0.1');
  });

  it('gives each app its own default port', () => {
    const ports = Object.entries(schemas).map(([app, s]) => loadConfig(app, s, {}).PORT);
    expect(new Set(ports).size).toBe(4);
    expect(loadConfig('gateway', gatewayConfigSchema, {}).PORT).toBe(8080);
  });

  it('converts types', () => {
    const c = loadConfig('gateway', gatewayConfigSchema, {
      PORT: '9000',
      DEBUG_COMPARE: 'true',
      KAFKA_BROKERS: 'a:1, b:2',
      TRANSPORT: 'kafka',
    });
    expect(c).toMatchObject({ PORT: 9000, DEBUG_COMPARE: true, KAFKA_BROKERS: ['a:1', 'b:2'], TRANSPORT: 'kafka' });
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig('gateway', gatewayConfigSchema, { PORT: '' }).PORT).toBe(8080);
  });

  it('lists every bad variable at once, with what it got and what it expects', () => {
    const err = problemsOf(() =>
      loadConfig('gateway', gatewayConfigSchema, {
        PORT: '70000',
        DEBUG_COMPARE: 'maybe',
        KAFKA_BROKERS: 'no-port',
        TRANSPORT: 'nats',
        BODY_LIMIT_BYTES: '1.5',
      }),
    );
    expect(err.problems.map((p) => p.variable).sort()).toEqual(
      ['BODY_LIMIT_BYTES', 'DEBUG_COMPARE', 'KAFKA_BROKERS', 'PORT', 'TRANSPORT'].sort(),
    );
    expect(err.message).toContain('Invalid configuration for gateway (5 problems)');
    expect(err.message).toContain('PORT: got "70000", expected an integer from 1 to 65535');
    expect(err.message).toContain('DEBUG_COMPARE: got "maybe", expected true or false');
    expect(err.message).toContain('KAFKA_BROKERS: got "no-port", expected a comma-separated list of host:port');
    expect(err.message).toContain('TRANSPORT: got "nats", expected one of in-process, kafka');
  });

  it('never prints a secret', () => {
    const err = problemsOf(() =>
      loadConfig('gateway', gatewayConfigSchema, { DATABASE_URL: 'mysql://user:hunter2@db/x' }),
    );
    expect(err.message).not.toContain('hunter2');
    expect(err.message).toContain('DATABASE_URL: got "***", expected a URL (postgres, postgresql), or unset');
  });

  it('reports cross-field rules under the variable to change', () => {
    const err = problemsOf(() => loadConfig('pipeline', pipelineConfigSchema, { PROFILE_STORE: 'aerospike' }));
    expect(err.problems).toEqual([
      {
        variable: 'AEROSPIKE_HOSTS',
        got: undefined,
        expects: 'a comma-separated list of host[:port] when PROFILE_STORE=aerospike',
      },
    ]);
  });
});

describe('bootConfig', () => {
  it('writes the message to stderr and exits with 78', () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const exit = jest.fn((code: number): never => {
      throw new Error(`exit ${code}`);
    });
    try {
      expect(() => bootConfig('gateway', gatewayConfigSchema, { PORT: 'x' }, exit)).toThrow('exit 78');
    } finally {
      spy.mockRestore();
    }
    expect(exit).toHaveBeenCalledWith(78);
    expect(writes.join('')).toContain('PORT: got "x", expected an integer from 1 to 65535');
  });
});

describe('describeSchema', () => {
  it('documents every variable with its expectation and default', () => {
    const docs = describeSchema(gatewayConfigSchema);
    expect(docs.find((d) => d.variable === 'PORT')).toEqual({
      variable: 'PORT',
      doc: 'TCP port of the HTTP server (API, health, metrics)',
      expects: 'an integer from 1 to 65535',
      defaultValue: 8080,
      secret: false,
    });
    for (const d of docs) {
      expect(d.expects).not.toBe('');
      expect(d.doc).not.toBe('');
    }
  });
});
