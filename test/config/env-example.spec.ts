import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  aggProducerConfigSchema,
  describeSchema,
  gatewayConfigSchema,
  pipelineConfigSchema,
  rawProducerConfigSchema,
} from '@lib/config';
import { envExample } from '../../scripts/env-example';

describe('.env.example', () => {
  it('is what `npm run env:example` generates from the schemas', () => {
    const committed = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');
    expect(committed).toBe(envExample());
  });

  it.each([
    ['gateway', gatewayConfigSchema],
    ['pipeline', pipelineConfigSchema],
    ['raw-producer', rawProducerConfigSchema],
    ['agg-producer', aggProducerConfigSchema],
  ])('says what each variable of %s is for', (_app, schema) => {
    const undocumented = describeSchema(schema)
      .filter((d) => d.doc === '')
      .map((d) => d.variable);
    expect(undocumented).toEqual([]);
  });
});
