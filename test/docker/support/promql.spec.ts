import { expandGrafanaVariables, parsePromQL, PromQLError } from './promql';

describe('parsePromQL', () => {
  it.each([
    'up',
    'sum(rate(http_request_duration_seconds_count{job="gateway", route="/user_tags", status="204"}[1m]))',
    'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="gateway"}[5m])))',
    'sum by (group, topic) (max by (group, topic, partition) (kafka_consumer_lag))',
    'sum without (instance) (rate(x_total[5m])) / on (job) group_left sum by (job) (rate(y_total[5m]))',
    'max_over_time(rate(x_total[1m])[1h:5m])',
    'x_total offset 5m',
    'rate(x_total[5m] offset -1h)',
    'x @ 1700000000',
    'x @ start()',
    '-x ^ 2',
    '2 ^ 3 ^ 2',
    '1 > bool 2',
    'topk(3, sum by (a) (x))',
    'quantile(0.9, x)',
    'count_values("value", x)',
    'label_replace(x, "dst", "$1", "src", "(.*)")',
    'label_join(x, "dst", ",", "a", "b")',
    'round(x, 0.1)',
    'hour()',
    'vector(1) or absent(x)',
    'x and on (a) y unless ignoring (b) z',
    '{__name__="x", job=~"a|b"}',
    'sum(x) by (a)',
    '0x1F + 1e3 + Inf - NaN',
    "x{a='single', b=`raw\\d`}",
  ])('accepts %s', (q) => {
    expect(() => parsePromQL(q)).not.toThrow();
  });

  it.each([
    ['rate(x)', 'argument 1 of rate is a range vector, got a instant vector'],
    ['sum(x[5m])', 'sum aggregates an instant vector, not a range vector'],
    ['x[5m]', 'must not return a range vector'],
    ['sum(rate(x[5m])', 'expected ")"'],
    ['x{a="b"', 'expected "," or "}"'],
    ['x{a=b}', 'expected a quoted label value'],
    ['x{a=~"("}', 'bad regular expression'],
    ['histogram_quantile(0.9)', 'histogram_quantile takes 2 argument(s), got 1'],
    ['histogram_quantile(x, y)', 'argument 1 of histogram_quantile is a scalar'],
    ['rates(x[5m])', 'unknown function rates'],
    ['{a=""}', 'needs a metric name or a matcher that does not match the empty string'],
    ['sum(x)[5m]', 'a range [..] applies to a metric selector'],
    ['"a" + 1', 'takes scalars and instant vectors, not a string'],
    ['1 > 2', 'a comparison of two scalars needs bool'],
    ['1 and x', 'set operator and takes instant vectors on both sides'],
    ['topk(x)', 'topk takes a scalar parameter first'],
    ['sum by (a) (x) by (b)', 'two by/without clauses'],
    ['x +', 'unexpected end of query'],
    ['x y', 'unexpected "y"'],
    ['sum(x', 'expected ")"'],
    ['x{a="b"} offset', 'expected a duration'],
    ['"unterminated', 'unterminated string'],
  ])('rejects %s (%s)', (q, message) => {
    expect(() => parsePromQL(q)).toThrow(PromQLError);
    expect(() => parsePromQL(q)).toThrow(message);
  });

  it('lists the selectors with their matchers, ranges and enclosing functions', () => {
    const q = parsePromQL('histogram_quantile(0.5, sum by (le) (rate(h_bucket{job="g", route!~"/x"}[5m]))) + up');
    expect(q.selectors).toEqual([
      {
        metric: 'h_bucket',
        matchers: [
          { label: 'job', op: '=', value: 'g' },
          { label: 'route', op: '!~', value: '/x' },
        ],
        within: ['rate', 'sum', 'histogram_quantile'],
        range: true,
      },
      { metric: 'up', matchers: [], within: [], range: false },
    ]);
  });

  it('tells the labels of the result', () => {
    expect(parsePromQL('sum by (a, b) (x)').outputLabels).toEqual({ kind: 'set', labels: ['a', 'b'] });
    expect(parsePromQL('sum(x)').outputLabels).toEqual({ kind: 'set', labels: [] });
    expect(parsePromQL('histogram_quantile(0.9, sum by (le, r) (rate(h_bucket[1m])))').outputLabels).toEqual({
      kind: 'set',
      labels: ['r'],
    });
    expect(parsePromQL('rate(x_total[1m])').outputLabels).toEqual({
      kind: 'series',
      metrics: ['x_total'],
      dropped: [],
    });
    expect(parsePromQL('sum without (instance) (x)').outputLabels).toEqual({
      kind: 'series',
      metrics: ['x'],
      dropped: ['instance'],
    });
  });
});

describe('expandGrafanaVariables', () => {
  it('replaces $name, ${name}, ${name:format} and [[name]], and lists them', () => {
    const { expanded, used } = expandGrafanaVariables('rate(x{a=~"$v", b="${w:regex}"}[$__rate_interval]) [[v]]', {
      v: 'V',
      w: 'W',
      __rate_interval: '1m',
    });
    expect(expanded).toBe('rate(x{a=~"V", b="W"}[1m]) V');
    expect(used).toEqual(['v', 'w', '__rate_interval', 'v']);
  });

  it('leaves unknown variables in place, where the parser then rejects them', () => {
    const { expanded } = expandGrafanaVariables('rate(x[$nope])', {});
    expect(expanded).toBe('rate(x[$nope])');
    expect(() => parsePromQL(expanded)).toThrow(PromQLError);
  });
});
