import { Registry } from 'prom-client';
import { counter, gauge, histogram } from './metric';

describe('metric helpers (get-or-create)', () => {
  it('registers a metric once per registry: a second instance shares it', async () => {
    const registry = new Registry();
    const a = counter({ name: 'x_total', help: 'x', labelNames: ['k'] }, registry);
    const b = counter({ name: 'x_total', help: 'x', labelNames: ['k'] }, registry);
    expect(b).toBe(a);
    a.inc({ k: '1' });
    b.inc({ k: '1' }, 2);
    expect((await registry.getSingleMetric('x_total')?.get())?.values[0]?.value).toBe(3);
    expect(counter({ name: 'x_total', help: 'x' }, new Registry())).not.toBe(a);
  });

  it('keeps each kind and its options, and refuses a name taken by another kind', () => {
    const registry = new Registry();
    const h = histogram({ name: 'h_seconds', help: 'h', buckets: [1, 2] }, registry);
    const g = gauge({ name: 'g', help: 'g' }, registry);
    g.set(4);
    h.observe(1.5);
    expect(registry.getMetricsAsArray().map((m) => m.name)).toEqual(['h_seconds', 'g']);
    expect(() => counter({ name: 'g', help: 'g' }, registry)).toThrow('already registered as another kind');
  });
});
