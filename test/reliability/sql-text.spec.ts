/**
 * The static half of reliability suite 6 (exposure): no SQL text in libs/persistence is built from
 * anything but constants, so no input can become SQL. Values travel as bind parameters ($1...), never in
 * the text. Parsed with the TypeScript compiler, every source file (tests aside) must satisfy:
 * - the text given to `<anything>.query(text, ...)`, to `hotQuery(name, text, ...)`, to
 *   `bounded(text, values, timeout)` and the settings given to `inTransaction(pool, fn, settings)` are
 *   constant: `undefined` (no settings), a string literal, a template without substitutions, a module-level `const` of one, a
 *   choice (`c ? a : b`) between constants, a prepared-query function made by hotQuery from a constant
 *   (ALLOWED_CALLEES), or `bounded(...)` of a constant;
 * - no template with substitutions and no `+` concatenation has SQL in its literal parts, except the
 *   ALLOWED ones, each with the reason it is safe.
 * A future change that splices input into SQL fails here, and must either use a parameter or argue its
 * case in the allow-list. (aggregates/cube-rows.ts builds array literals of values: that is a bound
 * parameter's value, not SQL text; its quoting is what the exposure suite's hostile strings exercise.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

const ROOT = resolve(__dirname, '..', '..');
const PERSISTENCE = join(ROOT, 'libs', 'persistence', 'src');

/** Interpolations of SQL that are safe, by file and exact source text. */
const ALLOWED: readonly { file: string; text: string; why: string }[] = [
  {
    file: 'libs/persistence/src/connection/sql-pool.ts',
    text: '`BEGIN; ${settings}`',
    why: "inTransaction's settings, which every caller must pass as a constant (checked below)",
  },
];

/** Prepared-query functions: `this.<name>(values)` returns a QueryConfig whose text hotQuery checked. */
const ALLOWED_CALLEES = new Set([
  'this.sliceQuery',
  'this.readQuery',
  'this.readHeadsQuery',
  'this.readBodiesQuery',
  'this.writeQuery',
]);

/** SQL as written here (upper-case keywords), or statement shapes in any case; not prose like "from". */
const SQL_KEYWORDS =
  /\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|VALUES|SET|BEGIN|COMMIT|ROLLBACK|CREATE|DROP|ALTER|TRUNCATE|GRANT|UNION|LIMIT|ORDER BY|GROUP BY)\b/;
const SQL_SHAPES =
  /\bselect\b[\s\S]*\bfrom\b|\binsert\s+into\b|\bdelete\s+from\b|\bupdate\b[\s\S]*\bset\b|\bwhere\b[\s\S]*=/i;
const looksLikeSql = (text: string): boolean => SQL_KEYWORDS.test(text) || SQL_SHAPES.test(text);

export interface Finding {
  file: string;
  line: number;
  text: string;
  problem: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !/\.(int-)?spec\.ts$/.test(e.name) ? [path] : [];
  });
}

/** Checks one source file; `file` is its path relative to the repository (for messages and ALLOWED). */
export function checkSqlText(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const findings: Finding[] = [];
  const report = (node: ts.Node, problem: string) =>
    findings.push({
      file,
      line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1,
      text: node.getText(sf).slice(0, 160),
      problem,
    });
  const allowed = (node: ts.Node) => ALLOWED.some((a) => a.file === file && a.text === node.getText(sf));

  // Module-level constants: name -> initializer.
  const constants = new Map<string, ts.Expression>();
  for (const stmt of sf.statements) {
    if (!ts.isVariableStatement(stmt) || (stmt.declarationList.flags & ts.NodeFlags.Const) === 0) continue;
    for (const d of stmt.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && d.initializer !== undefined) constants.set(d.name.text, d.initializer);
    }
  }

  const isConstant = (e: ts.Expression, seen = new Set<string>()): boolean => {
    if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e)) return isConstant(e.expression, seen);
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return true;
    // No text at all (inTransaction without settings, its timeout given).
    if (ts.isIdentifier(e) && e.text === 'undefined' && !constants.has('undefined')) return true;
    if (ts.isConditionalExpression(e)) return isConstant(e.whenTrue, seen) && isConstant(e.whenFalse, seen);
    if (ts.isTemplateExpression(e) && allowed(e)) return true;
    if (ts.isIdentifier(e)) {
      const init = constants.get(e.text);
      if (init === undefined || seen.has(e.text)) return false;
      return isConstant(init, new Set([...seen, e.text]));
    }
    if (ts.isCallExpression(e)) {
      if (ts.isIdentifier(e.expression) && e.expression.text === 'bounded') {
        return e.arguments[0] !== undefined && isConstant(e.arguments[0], seen);
      }
      return ALLOWED_CALLEES.has(e.expression.getText(sf));
    }
    return false;
  };

  const literalText = (e: ts.Node): string => {
    if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return e.text;
    if (ts.isTemplateExpression(e)) return [e.head.text, ...e.templateSpans.map((s) => s.literal.text)].join(' ');
    if (ts.isBinaryExpression(e) && e.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      return `${literalText(e.left)} ${literalText(e.right)}`;
    }
    if (ts.isParenthesizedExpression(e)) return literalText(e.expression);
    return '';
  };

  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isPropertyAccessExpression(callee)
        ? callee.name.text
        : ts.isIdentifier(callee)
          ? callee.text
          : '';
      const checked =
        name === 'query' && ts.isPropertyAccessExpression(callee)
          ? node.arguments[0]
          : name === 'hotQuery'
            ? node.arguments[1]
            : name === 'bounded'
              ? node.arguments[0]
              : name === 'inTransaction'
                ? node.arguments[2]
                : undefined;
      if (checked !== undefined && !isConstant(checked)) {
        report(checked, `the SQL of ${name}() is not a constant`);
      }
    }
    if (ts.isTemplateExpression(node) && looksLikeSql(literalText(node)) && !allowed(node)) {
      report(node, 'SQL built by template interpolation');
    }
    if (
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.PlusToken &&
      // The outermost `+` of a chain only.
      !(ts.isBinaryExpression(node.parent) && node.parent.operatorToken.kind === ts.SyntaxKind.PlusToken) &&
      looksLikeSql(literalText(node)) &&
      !allowed(node)
    ) {
      report(node, 'SQL built by + concatenation');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}

describe('SQL text in libs/persistence', () => {
  const files = sourceFiles(PERSISTENCE);

  it('is built from constants only, never from input (every query, prepared query and transaction setting)', () => {
    const findings = files.flatMap((f) => checkSqlText(relative(ROOT, f), readFileSync(f, 'utf8')));
    expect(findings).toEqual([]);
    // It did look at the stores.
    expect(files.map((f) => relative(ROOT, f))).toEqual(
      expect.arrayContaining([
        'libs/persistence/src/aggregates/pg-aggregate.store.ts',
        'libs/persistence/src/profiles/pg-profile.store.ts',
        'libs/persistence/src/connection/sql-pool.ts',
      ]),
    );
  });

  it('every allow-listed interpolation still exists (a stale entry would allow a new one unseen)', () => {
    for (const a of ALLOWED)
      expect([a.file, readFileSync(join(ROOT, a.file), 'utf8').includes(a.text)]).toEqual([a.file, true]);
  });

  it.each([
    ['a template with input', "export const f = (pool, id) => pool.query(`SELECT * FROM t WHERE id = '${id}'`);", 2],
    ['+ with input', "export const f = (pool, id) => pool.query('DELETE FROM t WHERE id = ' + id);", 2],
    ['lower-case SQL', "export const f = (pool, b) => pool.query(`select count(*) from t where brand = '${b}'`);", 2],
    [
      'a query text built elsewhere',
      "export function f(pool, brand) { const text = 'SELECT 1 FROM t WHERE brand = ' + brand; return pool.query(text); }",
      2,
    ],
    ['a parameter as the text', 'export const f = (pool, text: string) => pool.query(text, []);', 1],
    ['a prepared query of input', "export const q = (sql: string) => hotQuery('x', sql, true);", 1],
    ['a bounded query of input', 'export const f = (pool, sql: string) => pool.query(bounded(sql, [], 5));', 2],
    ['settings from input', "export const f = (pool, s: string) => inTransaction(pool, async () => 1, 'SET ' + s);", 2],
  ])('catches %s', (_what, source, count) => {
    expect(checkSqlText('libs/persistence/src/example.ts', source)).toHaveLength(count);
  });

  it('accepts constants and bind parameters', () => {
    const source = [
      "const A = 'SELECT 1 FROM t WHERE id = $1';",
      'const B = `UPDATE t SET a = $1 WHERE id = $2`;',
      'const C = A;',
      'export const f = (pool, id, on) => pool.query(on ? A : B, [id]).then(() => pool.query(C, [id]));',
      "export const g = (pool) => inTransaction(pool, async (c) => c.query('COMMIT'), \"SET LOCAL work_mem = '1MB'\");",
      "export const l = (pool) => inTransaction(pool, async (c) => c.query('COMMIT'), undefined, 1_000);",
      'export const h = (id: number) => new Error(`row ${id} not found`);',
      'export const k = (pool, id) => pool.query(bounded(A, [id], 1_000));',
    ].join('\n');
    expect(checkSqlText('libs/persistence/src/example.ts', source)).toEqual([]);
  });
});
