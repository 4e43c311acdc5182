import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import ts from 'typescript';

/**
 * The Prometheus metrics the apps register, read from their source with the TypeScript compiler:
 * every `new Counter|Gauge|Histogram|Summary({ name, labelNames })` and every
 * `make{Counter,Gauge,Histogram,Summary}Provider({ ... })` of @willsoto/nestjs-prometheus and every
 * `counter|gauge|histogram({ ... })` of libs/platform's helpers, with the
 * name and label names resolved when they are literals, constants of the same file, or parameters of
 * a helper whose calls in the file pass literals (raw-producer's `counter('name', ...)`). A
 * registration it cannot resolve is an error, so that a new pattern is taught here rather than missed.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface RegisteredMetric {
  readonly name: string;
  readonly type: MetricType;
  readonly labelNames: readonly string[];
  /** Where it is registered: file:line, or `prom-client default metrics`. */
  readonly source: string;
}

const CONSTRUCTORS: Record<string, MetricType> = {
  Counter: 'counter',
  Gauge: 'gauge',
  Histogram: 'histogram',
  Summary: 'summary',
  makeCounterProvider: 'counter',
  makeGaugeProvider: 'gauge',
  makeHistogramProvider: 'histogram',
  makeSummaryProvider: 'summary',
  // libs/platform's get-or-create helpers (metrics/metric.ts), the way the product registers them now.
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'testing') out.push(...sourceFiles(path));
    } else if (entry.name.endsWith('.ts') && !/\.(int-)?spec\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

/** Unwraps `x as const`, `<T>x`, `(x)` and `x!`. */
function bare(e: ts.Expression): ts.Expression {
  while (
    ts.isAsExpression(e) ||
    ts.isParenthesizedExpression(e) ||
    ts.isNonNullExpression(e) ||
    ts.isTypeAssertionExpression(e)
  ) {
    e = e.expression;
  }
  return e;
}

type Value = string | readonly string[];

class FileScanner {
  readonly metrics: RegisteredMetric[] = [];
  readonly unresolved: string[] = [];
  private readonly constants = new Map<string, ts.Expression>();

  constructor(
    private readonly sf: ts.SourceFile,
    private readonly path: string,
  ) {
    const collect = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
        this.constants.set(node.name.text, node.initializer);
      }
      ts.forEachChild(node, collect);
    };
    collect(sf);
  }

  scan(): void {
    const visit = (node: ts.Node): void => {
      const call = ts.isNewExpression(node) || ts.isCallExpression(node) ? node : undefined;
      if (call && ts.isIdentifier(call.expression) && call.expression.text in CONSTRUCTORS) {
        const arg = call.arguments?.[0];
        if (arg && ts.isObjectLiteralExpression(bare(arg))) this.registration(call, CONSTRUCTORS[call.expression.text]);
      }
      ts.forEachChild(node, visit);
    };
    visit(this.sf);
  }

  private where(node: ts.Node): string {
    const { line } = this.sf.getLineAndCharacterOfPosition(node.getStart(this.sf));
    return `${this.path}:${line + 1}`;
  }

  private registration(call: ts.NewExpression | ts.CallExpression, type: MetricType): void {
    const options = bare((call.arguments as ts.NodeArray<ts.Expression>)[0]) as ts.ObjectLiteralExpression;
    const property = (key: string): ts.Expression | undefined => {
      for (const p of options.properties) {
        if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === key) return p.initializer;
        if (ts.isShorthandPropertyAssignment(p) && p.name.text === key) return p.name;
      }
      return undefined;
    };
    const nameExpr = property('name');
    const labelsExpr = property('labelNames');
    // A helper passing its caller's options on (`new Counter({ ...config, registers })`): its calls are
    // the registrations, scanned where they are made.
    if (!nameExpr && options.properties.some((p) => ts.isSpreadAssignment(p))) return;
    if (!nameExpr) {
      this.unresolved.push(`${this.where(call)}: no name`);
      return;
    }
    // Each way the name resolves (a helper called several times gives several metrics).
    for (const binding of this.bindings(call, [nameExpr, labelsExpr])) {
      const [name, labels] = binding;
      if (typeof name !== 'string' || (labels !== undefined && typeof labels === 'string')) {
        this.unresolved.push(`${this.where(call)}: name ${nameExpr.getText(this.sf)}`);
        continue;
      }
      this.metrics.push({
        name,
        type,
        labelNames: (labels as readonly string[] | undefined) ?? [],
        source: this.where(call),
      });
    }
  }

  /**
   * Values of the expressions; when they are parameters of the enclosing function, one tuple per
   * call of that function in this file (its arguments, or the parameter's default).
   */
  private bindings(at: ts.Node, exprs: (ts.Expression | undefined)[]): (Value | undefined)[][] {
    const fn = enclosingFunction(at);
    const params = fn?.parameters.map((p) => (ts.isIdentifier(p.name) ? p.name.text : '')) ?? [];
    const usesParam = exprs.some(
      (e) => e && ts.isIdentifier(bare(e)) && params.includes((bare(e) as ts.Identifier).text),
    );
    if (!fn || !usesParam) return [exprs.map((e) => (e ? this.value(e) : undefined))];
    const calls = this.callsOf(fn);
    if (calls.length === 0) return [exprs.map(() => undefined)];
    return calls.map((c) =>
      exprs.map((e) => {
        if (!e) return undefined;
        const b = bare(e);
        if (!ts.isIdentifier(b) || !params.includes(b.text)) return this.value(e);
        const k = params.indexOf(b.text);
        const arg = c.arguments[k] ?? fn.parameters[k].initializer;
        return arg ? this.value(arg) : undefined;
      }),
    );
  }

  private callsOf(fn: ts.SignatureDeclaration): ts.CallExpression[] {
    // The helper's name: `const counter = (...) => ...` or `function counter(...)`.
    let name: string | undefined;
    if (ts.isFunctionDeclaration(fn) && fn.name) name = fn.name.text;
    else if (ts.isVariableDeclaration(fn.parent) && ts.isIdentifier(fn.parent.name)) name = fn.parent.name.text;
    if (!name) return [];
    const calls: ts.CallExpression[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === name)
        calls.push(node);
      ts.forEachChild(node, visit);
    };
    visit(this.sf);
    return calls;
  }

  private value(e: ts.Expression, depth = 0): Value | undefined {
    const b = bare(e);
    if (ts.isStringLiteral(b) || ts.isNoSubstitutionTemplateLiteral(b)) return b.text;
    if (ts.isArrayLiteralExpression(b)) {
      const items = b.elements.map((x) => this.value(x, depth + 1));
      return items.every((x) => typeof x === 'string') ? (items as string[]) : undefined;
    }
    if (ts.isIdentifier(b) && depth < 5) {
      const init = this.constants.get(b.text);
      return init ? this.value(init, depth + 1) : undefined;
    }
    return undefined;
  }
}

function enclosingFunction(node: ts.Node): ts.SignatureDeclaration | undefined {
  for (let n = node.parent; n; n = n.parent) {
    if (ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isFunctionDeclaration(n)) return n;
  }
  return undefined;
}

/** Metrics registered by the source under `dirs` (relative to `root`), plus prom-client's default metrics. */
export function registeredMetrics(root: string, dirs: readonly string[]): Map<string, RegisteredMetric> {
  const out = new Map<string, RegisteredMetric>();
  const unresolved: string[] = [];
  for (const dir of dirs) {
    for (const file of sourceFiles(join(root, dir))) {
      const text = readFileSync(file, 'utf8');
      if (!/prom-client|nestjs-prometheus|@lib\/platform|\/metric'/.test(text)) continue;
      const scanner = new FileScanner(
        ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true),
        relative(root, file),
      );
      scanner.scan();
      unresolved.push(...scanner.unresolved);
      for (const m of scanner.metrics) {
        const seen = out.get(m.name);
        if (seen && (seen.type !== m.type || seen.labelNames.join() !== m.labelNames.join())) {
          throw new Error(`${m.name} is registered twice, differently: ${seen.source} and ${m.source}`);
        }
        out.set(m.name, m);
      }
    }
  }
  if (unresolved.length > 0)
    throw new Error(`metric registrations the scanner cannot resolve:\n${unresolved.join('\n')}`);
  for (const m of defaultMetrics()) if (!out.has(m.name)) out.set(m.name, m);
  return out;
}

/** What PlatformModule's `defaultMetrics: { enabled: true }` adds (prom-client's collectDefaultMetrics). */
function defaultMetrics(): RegisteredMetric[] {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry.getMetricsAsArray().map((m) => {
    const metric = m as unknown as { name: string; labelNames?: string[]; constructor: { name: string } };
    return {
      name: metric.name,
      type: metric.constructor.name.toLowerCase() as MetricType,
      labelNames: metric.labelNames ?? [],
      source: 'prom-client default metrics',
    };
  });
}
