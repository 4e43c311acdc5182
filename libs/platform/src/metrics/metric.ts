import {
  Counter,
  CounterConfiguration,
  Gauge,
  GaugeConfiguration,
  Histogram,
  HistogramConfiguration,
  Metric,
  register as defaultRegistry,
  Registry,
} from 'prom-client';

/**
 * The one way the product registers a Prometheus metric: get-or-create by name in `registry` (default:
 * the one /metrics serves). The embedded mode runs several apps, and tests several instances of a
 * module, in one process: they share a metric instead of failing on a duplicate name. A name already
 * taken by another kind of metric is a programming error and throws.
 */
export function counter<L extends string = string>(
  config: Omit<CounterConfiguration<L>, 'registers'>,
  registry: Registry = defaultRegistry,
): Counter<L> {
  return getOrCreate(registry, config.name, Counter, () => new Counter<L>({ ...config, registers: [registry] }));
}

export function gauge<L extends string = string>(
  config: Omit<GaugeConfiguration<L>, 'registers'>,
  registry: Registry = defaultRegistry,
): Gauge<L> {
  return getOrCreate(registry, config.name, Gauge, () => new Gauge<L>({ ...config, registers: [registry] }));
}

export function histogram<L extends string = string>(
  config: Omit<HistogramConfiguration<L>, 'registers'>,
  registry: Registry = defaultRegistry,
): Histogram<L> {
  return getOrCreate(registry, config.name, Histogram, () => new Histogram<L>({ ...config, registers: [registry] }));
}

function getOrCreate<M extends Metric>(
  registry: Registry,
  name: string,
  kind: abstract new (...args: never[]) => unknown,
  create: () => M,
): M {
  const existing = registry.getSingleMetric(name);
  if (existing === undefined) return create();
  if (!(existing instanceof kind)) throw new Error(`metric ${name} is already registered as another kind`);
  return existing as M;
}
