/**
 * A PromQL parser and type checker for the dashboard's queries: Prometheus' grammar (operators and
 * their precedence, aggregations with by/without, vector matching, range and subquery selectors,
 * offset and @) and its value types, so that `rate(x)` (an instant vector where a range is due),
 * `sum(x[5m])` or a misspelt function fail here rather than in Grafana. It returns the metrics and
 * label matchers a query uses, for the checks against what the apps register.
 *
 * Not covered: the binary operators' label-matching semantics at evaluation time, and Grafana's own
 * macros, which are substituted before parsing (see `expandGrafanaVariables`). Stricter than
 * Prometheus 3 in one place: a range must carry its unit ([5m], not [300]).
 *
 * Cross-checked once by hand (docker/README.md) against Prometheus' own grammar,
 * @prometheus-io/lezer-promql, which is not a dependency of the project.
 */

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

export interface Matcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

export interface Selector {
  readonly metric?: string;
  readonly matchers: readonly Matcher[];
  /** The functions and aggregations around the selector, innermost first. */
  readonly within: readonly string[];
  /** True when the selector has a range ([5m]), directly or through a subquery. */
  readonly range: boolean;
}

export interface Query {
  readonly type: ValueType;
  readonly selectors: readonly Selector[];
  /** Labels of the result, when they can be told from the query (undefined: those of the metric). */
  readonly outputLabels: OutputLabels;
  /** Aggregations and functions used, with their grouping labels. */
  readonly groupings: readonly { readonly op: string; readonly by: readonly string[] }[];
}

/** The result's labels: a known set, or the series' own labels minus some (`without`, functions). */
export type OutputLabels =
  | { readonly kind: 'set'; readonly labels: readonly string[] }
  | { readonly kind: 'series'; readonly metrics: readonly string[]; readonly dropped: readonly string[] };

export class PromQLError extends Error {}

type ArgType = ValueType | 'scalar?' | 'string*';

/** Prometheus' functions: argument types and result type. */
const FUNCTIONS: Record<string, { args: readonly ArgType[]; returns: ValueType }> = {
  abs: { args: ['vector'], returns: 'vector' },
  absent: { args: ['vector'], returns: 'vector' },
  absent_over_time: { args: ['matrix'], returns: 'vector' },
  acos: { args: ['vector'], returns: 'vector' },
  asin: { args: ['vector'], returns: 'vector' },
  atan: { args: ['vector'], returns: 'vector' },
  avg_over_time: { args: ['matrix'], returns: 'vector' },
  ceil: { args: ['vector'], returns: 'vector' },
  changes: { args: ['matrix'], returns: 'vector' },
  clamp: { args: ['vector', 'scalar', 'scalar'], returns: 'vector' },
  clamp_max: { args: ['vector', 'scalar'], returns: 'vector' },
  clamp_min: { args: ['vector', 'scalar'], returns: 'vector' },
  cos: { args: ['vector'], returns: 'vector' },
  count_over_time: { args: ['matrix'], returns: 'vector' },
  day_of_month: { args: ['vector'], returns: 'vector' },
  day_of_week: { args: ['vector'], returns: 'vector' },
  day_of_year: { args: ['vector'], returns: 'vector' },
  days_in_month: { args: ['vector'], returns: 'vector' },
  deg: { args: ['vector'], returns: 'vector' },
  delta: { args: ['matrix'], returns: 'vector' },
  deriv: { args: ['matrix'], returns: 'vector' },
  exp: { args: ['vector'], returns: 'vector' },
  floor: { args: ['vector'], returns: 'vector' },
  histogram_avg: { args: ['vector'], returns: 'vector' },
  histogram_count: { args: ['vector'], returns: 'vector' },
  histogram_fraction: { args: ['scalar', 'scalar', 'vector'], returns: 'vector' },
  histogram_quantile: { args: ['scalar', 'vector'], returns: 'vector' },
  histogram_stddev: { args: ['vector'], returns: 'vector' },
  histogram_stdvar: { args: ['vector'], returns: 'vector' },
  histogram_sum: { args: ['vector'], returns: 'vector' },
  hour: { args: ['vector'], returns: 'vector' },
  idelta: { args: ['matrix'], returns: 'vector' },
  increase: { args: ['matrix'], returns: 'vector' },
  irate: { args: ['matrix'], returns: 'vector' },
  label_join: { args: ['vector', 'string', 'string', 'string*'], returns: 'vector' },
  label_replace: { args: ['vector', 'string', 'string', 'string', 'string'], returns: 'vector' },
  last_over_time: { args: ['matrix'], returns: 'vector' },
  ln: { args: ['vector'], returns: 'vector' },
  log10: { args: ['vector'], returns: 'vector' },
  log2: { args: ['vector'], returns: 'vector' },
  mad_over_time: { args: ['matrix'], returns: 'vector' },
  max_over_time: { args: ['matrix'], returns: 'vector' },
  min_over_time: { args: ['matrix'], returns: 'vector' },
  minute: { args: ['vector'], returns: 'vector' },
  month: { args: ['vector'], returns: 'vector' },
  predict_linear: { args: ['matrix', 'scalar'], returns: 'vector' },
  present_over_time: { args: ['matrix'], returns: 'vector' },
  quantile_over_time: { args: ['scalar', 'matrix'], returns: 'vector' },
  rad: { args: ['vector'], returns: 'vector' },
  rate: { args: ['matrix'], returns: 'vector' },
  resets: { args: ['matrix'], returns: 'vector' },
  round: { args: ['vector', 'scalar?'], returns: 'vector' },
  scalar: { args: ['vector'], returns: 'scalar' },
  sgn: { args: ['vector'], returns: 'vector' },
  sin: { args: ['vector'], returns: 'vector' },
  sort: { args: ['vector'], returns: 'vector' },
  sort_desc: { args: ['vector'], returns: 'vector' },
  sqrt: { args: ['vector'], returns: 'vector' },
  stddev_over_time: { args: ['matrix'], returns: 'vector' },
  stdvar_over_time: { args: ['matrix'], returns: 'vector' },
  sum_over_time: { args: ['matrix'], returns: 'vector' },
  tan: { args: ['vector'], returns: 'vector' },
  time: { args: [], returns: 'scalar' },
  timestamp: { args: ['vector'], returns: 'vector' },
  vector: { args: ['scalar'], returns: 'vector' },
  year: { args: ['vector'], returns: 'vector' },
};

/** Functions whose vector argument is optional (default: vector(time())). */
const OPTIONAL_VECTOR = new Set([
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'hour',
  'minute',
  'month',
  'year',
]);

const AGGREGATIONS: Record<string, 'none' | 'scalar' | 'string'> = {
  sum: 'none',
  avg: 'none',
  count: 'none',
  min: 'none',
  max: 'none',
  group: 'none',
  stddev: 'none',
  stdvar: 'none',
  topk: 'scalar',
  bottomk: 'scalar',
  quantile: 'scalar',
  limitk: 'scalar',
  limit_ratio: 'scalar',
  count_values: 'string',
};

/** Binary operators by precedence, lowest first; `^` is right-associative. */
const PRECEDENCE: readonly (readonly string[])[] = [
  ['or'],
  ['and', 'unless'],
  ['==', '!=', '<=', '<', '>=', '>'],
  ['+', '-'],
  ['*', '/', '%', 'atan2'],
  ['^'],
];
const SET_OPS = new Set(['and', 'or', 'unless']);
const COMPARISONS = new Set(['==', '!=', '<=', '<', '>=', '>']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool']);

interface Token {
  readonly kind: 'number' | 'string' | 'duration' | 'ident' | 'op' | 'eof';
  readonly text: string;
  readonly pos: number;
}

const DURATION = /^(?:\d+(?:ms|s|m|h|d|w|y))+/;
const NUMBER = /^(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF]|[nN][aA][nN])/;
const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const OPS = [
  '==',
  '!=',
  '=~',
  '!~',
  '<=',
  '>=',
  '(',
  ')',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '@',
];

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let inBrackets = false;
  while (i < text.length) {
    const rest = text.slice(i);
    const ws = /^(?:\s+|#[^\n]*)/.exec(rest);
    if (ws) {
      i += ws[0].length;
      continue;
    }
    const ch = text[i];
    if (ch === '"' || ch === "'" || ch === '`') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== ch) {
        if (text[j] === '\\' && ch !== '`') {
          j++;
          const esc = text[j];
          value += esc === 'n' ? '\n' : esc === 't' ? '\t' : esc;
        } else {
          value += text[j];
        }
        j++;
      }
      if (j >= text.length) throw new PromQLError(`unterminated string at ${i}`);
      tokens.push({ kind: 'string', text: value, pos: i });
      i = j + 1;
      continue;
    }
    const duration = DURATION.exec(rest);
    if (duration && !/^[a-zA-Z0-9_]/.test(rest.slice(duration[0].length))) {
      tokens.push({ kind: 'duration', text: duration[0], pos: i });
      i += duration[0].length;
      continue;
    }
    const number = /^[0-9.]/.test(ch) ? NUMBER.exec(rest) : null;
    if (number) {
      tokens.push({ kind: 'number', text: number[0], pos: i });
      i += number[0].length;
      continue;
    }
    // Inside [..] a colon separates a subquery's range from its step; elsewhere it may start a name.
    const ident = ch === ':' && inBrackets ? null : IDENT.exec(rest);
    if (ident) {
      const word = ident[0];
      const isNumberWord = /^(inf|nan)$/i.test(word);
      tokens.push({ kind: isNumberWord ? 'number' : 'ident', text: word, pos: i });
      i += word.length;
      continue;
    }
    const op = OPS.find((o) => rest.startsWith(o));
    if (!op) throw new PromQLError(`unexpected character "${ch}" at ${i}`);
    if (op === '[') inBrackets = true;
    if (op === ']') inBrackets = false;
    tokens.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  tokens.push({ kind: 'eof', text: '', pos: text.length });
  return tokens;
}

interface Node {
  readonly type: ValueType;
  readonly labels: OutputLabels;
}

class Parser {
  private i = 0;
  readonly selectors: Selector[] = [];
  readonly groupings: { op: string; by: string[] }[] = [];
  private readonly context: string[] = [];
  /** The last primary parsed was a bare selector: only that may take a range [..]. */
  private lastWasSelector = false;

  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.expr(0);
    if (this.peek().kind !== 'eof') this.fail(`unexpected "${this.peek().text}"`);
    return node;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    return this.tokens[this.i++];
  }

  private fail(message: string): never {
    throw new PromQLError(`${message} at ${this.peek().pos}`);
  }

  private expect(text: string): Token {
    const t = this.next();
    if (t.text !== text || (t.kind !== 'op' && t.kind !== 'ident')) {
      this.i--;
      this.fail(`expected "${text}", got "${t.text || 'end of query'}"`);
    }
    return t;
  }

  private isBinaryOp(t: Token, level: number): boolean {
    return (t.kind === 'op' || t.kind === 'ident') && PRECEDENCE[level].includes(t.text);
  }

  private expr(level: number): Node {
    if (level >= PRECEDENCE.length) return this.unary();
    let left = this.expr(level + 1);
    while (this.isBinaryOp(this.peek(), level)) {
      const op = this.next().text;
      let returnBool = false;
      if (this.peek().text === 'bool') {
        if (!COMPARISONS.has(op)) this.fail('bool only follows a comparison');
        this.next();
        returnBool = true;
      }
      const matching = this.vectorMatching();
      // `^` is right-associative: its right side may hold another `^`.
      const right = op === '^' ? this.expr(level) : this.expr(level + 1);
      left = this.binary(op, left, right, returnBool, matching);
    }
    return left;
  }

  private vectorMatching(): { on?: string[]; ignoring?: string[]; group?: string[] } | undefined {
    const t = this.peek();
    if (t.kind !== 'ident' || (t.text !== 'on' && t.text !== 'ignoring')) return undefined;
    this.next();
    const labels = this.labelList();
    const m: { on?: string[]; ignoring?: string[]; group?: string[] } =
      t.text === 'on' ? { on: labels } : { ignoring: labels };
    const g = this.peek();
    if (g.kind === 'ident' && (g.text === 'group_left' || g.text === 'group_right')) {
      this.next();
      m.group = this.peek().text === '(' ? this.labelList() : [];
    }
    return m;
  }

  private binary(
    op: string,
    left: Node,
    right: Node,
    returnBool: boolean,
    matching: { on?: string[]; ignoring?: string[]; group?: string[] } | undefined,
  ): Node {
    for (const side of [left, right]) {
      if (side.type === 'matrix' || side.type === 'string') {
        this.fail(
          `operator ${op} takes scalars and instant vectors, not a ${side.type === 'matrix' ? 'range vector' : 'string'}`,
        );
      }
    }
    if (SET_OPS.has(op) && (left.type !== 'vector' || right.type !== 'vector')) {
      this.fail(`set operator ${op} takes instant vectors on both sides`);
    }
    if (matching && (left.type !== 'vector' || right.type !== 'vector')) {
      this.fail('vector matching (on/ignoring) needs instant vectors on both sides');
    }
    if (COMPARISONS.has(op) && left.type === 'scalar' && right.type === 'scalar' && !returnBool) {
      this.fail('a comparison of two scalars needs bool');
    }
    if (left.type === 'scalar' && right.type === 'scalar')
      return { type: 'scalar', labels: { kind: 'set', labels: [] } };
    const labels = left.type === 'vector' ? left.labels : right.labels;
    if (matching?.on && !matching.group) return { type: 'vector', labels: { kind: 'set', labels: matching.on } };
    return { type: 'vector', labels };
  }

  private unary(): Node {
    const t = this.peek();
    if (t.kind === 'op' && (t.text === '-' || t.text === '+')) {
      this.next();
      const operand = this.unary();
      if (operand.type !== 'scalar' && operand.type !== 'vector')
        this.fail(`unary ${t.text} takes a scalar or an instant vector`);
      return operand;
    }
    // `^` binds tighter than unary minus: -2^2 is -(2^2).
    const base = this.postfix();
    if (this.peek().text === '^' && this.peek().kind === 'op') {
      this.next();
      const exponent = this.unary();
      return this.binary('^', base, exponent, false, undefined);
    }
    return base;
  }

  private postfix(): Node {
    let node = this.primary();
    for (;;) {
      const t = this.peek();
      if (t.kind === 'op' && t.text === '[') {
        this.next();
        this.duration();
        if (this.peek().text === ':') {
          // Subquery: any instant-vector expression.
          this.next();
          if (this.peek().kind === 'duration') this.duration();
          this.expect(']');
          if (node.type !== 'vector') this.fail('a subquery needs an instant vector');
          node = { type: 'matrix', labels: node.labels };
          this.markRange();
        } else {
          this.expect(']');
          if (node.type !== 'vector' || !this.lastWasSelector)
            this.fail('a range [..] applies to a metric selector (or use a subquery [..:..])');
          node = { type: 'matrix', labels: node.labels };
          this.markRange();
        }
        continue;
      }
      if (t.kind === 'ident' && t.text === 'offset') {
        this.next();
        if (this.peek().text === '-') this.next();
        this.duration();
        if (node.type !== 'vector' && node.type !== 'matrix') this.fail('offset applies to a selector or subquery');
        continue;
      }
      if (t.kind === 'op' && t.text === '@') {
        this.next();
        const at = this.next();
        if (at.kind === 'ident' && (at.text === 'start' || at.text === 'end')) {
          this.expect('(');
          this.expect(')');
        } else if (at.kind !== 'number') {
          this.i--;
          this.fail('@ takes a timestamp, start() or end()');
        }
        continue;
      }
      return node;
    }
  }

  private markRange(): void {
    const last = this.selectors[this.selectors.length - 1];
    if (last) this.selectors[this.selectors.length - 1] = { ...last, range: true };
    this.lastWasSelector = false;
  }

  private duration(): string {
    const t = this.next();
    if (t.kind !== 'duration') {
      this.i--;
      this.fail(`expected a duration (5m, 1h30m...), got "${t.text || 'end of query'}"`);
    }
    return t.text;
  }

  private primary(): Node {
    this.lastWasSelector = false;
    const t = this.peek();
    if (t.kind === 'number') {
      this.next();
      return { type: 'scalar', labels: { kind: 'set', labels: [] } };
    }
    if (t.kind === 'string') {
      this.next();
      return { type: 'string', labels: { kind: 'set', labels: [] } };
    }
    if (t.kind === 'op' && t.text === '(') {
      this.next();
      const inner = this.expr(0);
      this.expect(')');
      this.lastWasSelector = false;
      return inner;
    }
    if (t.kind === 'op' && t.text === '{') return this.selector(undefined);
    if (t.kind === 'ident') {
      if (t.text in AGGREGATIONS) return this.aggregation();
      if (this.peek(1).text === '(' && this.peek(1).kind === 'op') return this.call();
      if (KEYWORDS.has(t.text) || SET_OPS.has(t.text)) this.fail(`unexpected keyword "${t.text}"`);
      this.next();
      return this.selector(t.text);
    }
    this.fail(t.kind === 'eof' ? 'unexpected end of query' : `unexpected "${t.text}"`);
  }

  private selector(metric: string | undefined): Node {
    const matchers: Matcher[] = [];
    if (this.peek().text === '{' && this.peek().kind === 'op') {
      this.next();
      while (this.peek().text !== '}') {
        const label = this.next();
        if (label.kind !== 'ident') {
          this.i--;
          this.fail(`expected a label name, got "${label.text || 'end of query'}"`);
        }
        const op = this.next();
        if (!['=', '!=', '=~', '!~'].includes(op.text) || op.kind !== 'op') {
          this.i--;
          this.fail(`expected =, !=, =~ or !~ after ${label.text}`);
        }
        const value = this.next();
        if (value.kind !== 'string') {
          this.i--;
          this.fail(`expected a quoted label value for ${label.text}`);
        }
        if (op.text === '=~' || op.text === '!~') {
          try {
            new RegExp(`^(?:${value.text})$`);
          } catch {
            this.fail(`bad regular expression for ${label.text}: ${value.text}`);
          }
        }
        matchers.push({ label: label.text, op: op.text as Matcher['op'], value: value.text });
        if (this.peek().text === ',') this.next();
        else if (this.peek().text !== '}') this.fail('expected "," or "}" in a selector');
      }
      this.expect('}');
    }
    const name = metric ?? matchers.find((m) => m.label === '__name__' && m.op === '=')?.value;
    if (name === undefined && matchers.every(matchesEmpty)) {
      this.fail('a selector needs a metric name or a matcher that does not match the empty string');
    }
    this.selectors.push({ metric: name, matchers, within: [...this.context].reverse(), range: false });
    this.lastWasSelector = true;
    return { type: 'vector', labels: { kind: 'series', metrics: name ? [name] : [], dropped: [] } };
  }

  private labelList(): string[] {
    this.expect('(');
    const labels: string[] = [];
    while (this.peek().text !== ')') {
      const t = this.next();
      if (t.kind !== 'ident') {
        this.i--;
        this.fail(`expected a label name, got "${t.text || 'end of query'}"`);
      }
      labels.push(t.text);
      if (this.peek().text === ',') this.next();
      else if (this.peek().text !== ')') this.fail('expected "," or ")" in a label list');
    }
    this.expect(')');
    return labels;
  }

  private aggregation(): Node {
    const op = this.next().text;
    let grouping: { mode: 'by' | 'without'; labels: string[] } | undefined;
    const modifier = (): void => {
      const t = this.peek();
      if (t.kind === 'ident' && (t.text === 'by' || t.text === 'without')) {
        if (grouping) this.fail(`${op} has two by/without clauses`);
        this.next();
        grouping = { mode: t.text, labels: this.labelList() };
      }
    };
    modifier();
    this.expect('(');
    this.context.push(op);
    const param = AGGREGATIONS[op];
    if (param !== 'none') {
      const p = this.expr(0);
      if (p.type !== param) this.fail(`${op} takes a ${param} parameter first`);
      this.expect(',');
    }
    const arg = this.expr(0);
    this.context.pop();
    this.expect(')');
    this.lastWasSelector = false;
    modifier();
    if (arg.type !== 'vector') this.fail(`${op} aggregates an instant vector, not a ${describe(arg.type)}`);
    this.groupings.push({ op, by: grouping?.mode === 'by' ? grouping.labels : [] });
    let labels: OutputLabels;
    if (op === 'topk' || op === 'bottomk' || op === 'limitk' || op === 'limit_ratio') labels = arg.labels;
    else if (!grouping) labels = { kind: 'set', labels: [] };
    else if (grouping.mode === 'by') labels = { kind: 'set', labels: grouping.labels };
    else labels = dropLabels(arg.labels, grouping.labels);
    return { type: 'vector', labels };
  }

  private call(): Node {
    const name = this.next().text;
    const fn = FUNCTIONS[name];
    if (!fn) this.fail(`unknown function ${name}`);
    this.expect('(');
    this.context.push(name);
    const args: Node[] = [];
    while (this.peek().text !== ')') {
      args.push(this.expr(0));
      if (this.peek().text === ',') this.next();
      else if (this.peek().text !== ')') this.fail(`expected "," or ")" in ${name}(...)`);
    }
    this.context.pop();
    this.expect(')');
    this.lastWasSelector = false;
    const required =
      fn.args.filter((a) => !a.endsWith('?') && !a.endsWith('*')).length - (OPTIONAL_VECTOR.has(name) ? 1 : 0);
    const variadic = fn.args.some((a) => a.endsWith('*'));
    if (args.length < required || (!variadic && args.length > fn.args.length)) {
      this.fail(`${name} takes ${fn.args.length} argument(s), got ${args.length}`);
    }
    args.forEach((a, k) => {
      const expected = (fn.args[Math.min(k, fn.args.length - 1)] as string).replace(/[?*]$/, '') as ValueType;
      if (a.type !== expected)
        this.fail(`argument ${k + 1} of ${name} is a ${describe(expected)}, got a ${describe(a.type)}`);
    });
    this.groupings.push({ op: name, by: [] });
    const vectorArg = args.find((a) => a.type === 'vector' || a.type === 'matrix');
    let labels: OutputLabels = vectorArg?.labels ?? { kind: 'set', labels: [] };
    if (name === 'histogram_quantile' || name === 'histogram_fraction') labels = dropLabels(labels, ['le']);
    return { type: fn.returns, labels };
  }
}

function matchesEmpty(m: Matcher): boolean {
  switch (m.op) {
    case '=':
      return m.value === '';
    case '!=':
      return m.value !== '';
    case '=~':
      return new RegExp(`^(?:${m.value})$`).test('');
    case '!~':
      return !new RegExp(`^(?:${m.value})$`).test('');
  }
}

function dropLabels(labels: OutputLabels, drop: readonly string[]): OutputLabels {
  if (labels.kind === 'set') return { kind: 'set', labels: labels.labels.filter((l) => !drop.includes(l)) };
  return { ...labels, dropped: [...labels.dropped, ...drop] };
}

function describe(t: ValueType): string {
  return t === 'matrix' ? 'range vector' : t === 'vector' ? 'instant vector' : t;
}

/** Parses and type-checks one query; throws PromQLError naming the position of the first problem. */
export function parsePromQL(text: string): Query {
  const parser = new Parser(tokenize(text));
  const node = parser.parse();
  if (node.type === 'matrix')
    throw new PromQLError('a query must not return a range vector (Grafana plots instant vectors)');
  return { type: node.type, selectors: parser.selectors, outputLabels: node.labels, groupings: parser.groupings };
}

/** Grafana's macros and built-in variables, with values of their kind, and the dashboard's own. */
export const GRAFANA_BUILTINS: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

/**
 * Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` the way Grafana does before a query
 * is sent, with the given sample values. Returns the query and the names it used.
 */
export function expandGrafanaVariables(
  expr: string,
  values: Readonly<Record<string, string>>,
): { expanded: string; used: string[] } {
  const used: string[] = [];
  const expanded = expr.replace(
    /\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]/g,
    (whole, a: string | undefined, b: string | undefined, c: string | undefined) => {
      const name = (a ?? b ?? c) as string;
      used.push(name);
      return values[name] ?? whole;
    },
  );
  return { expanded, used };
}
