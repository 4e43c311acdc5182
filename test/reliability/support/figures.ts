/**
 * The figures each reliability suite ends with: printed as a table when the suite ends (to stdout, so
 * Jest's console decoration does not get in the way) and kept in `.cache/reliability/<suite>.md` and
 * `.json`, from which docs/RELIABILITY.md takes them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const FIGURES_DIR = resolve(__dirname, '..', '..', '..', '.cache', 'reliability');

export type Figure = readonly [what: string, value: string | number];

export class Figures {
  private readonly rows: Figure[] = [];
  private readonly started = Date.now();

  constructor(
    readonly suite: string,
    /** What was run, e.g. the sizes, so a reader can reproduce the figures. */
    readonly setup: string,
  ) {}

  add(what: string, value: string | number): void {
    this.rows.push([what, value]);
  }

  /** Prints and stores the table; call once, when the suite ends (also when it failed: partial figures help). */
  report(outcome: 'passed' | 'failed'): string {
    const fmt = (v: string | number) => (typeof v === 'number' ? v.toLocaleString('en-US') : v);
    const width = Math.max(...this.rows.map(([w]) => w.length), 6);
    const lines = [
      `### ${this.suite}: ${outcome} (${((Date.now() - this.started) / 1000).toFixed(0)} s)`,
      '',
      this.setup,
      '',
      `| ${'figure'.padEnd(width)} | value |`,
      `| ${'-'.repeat(width)} | ----- |`,
      ...this.rows.map(([w, v]) => `| ${w.padEnd(width)} | ${fmt(v)} |`),
      '',
    ];
    const text = lines.join('\n');
    mkdirSync(FIGURES_DIR, { recursive: true });
    writeFileSync(join(FIGURES_DIR, `${this.suite}.md`), `${text}\n`);
    writeFileSync(
      join(FIGURES_DIR, `${this.suite}.json`),
      `${JSON.stringify({ suite: this.suite, outcome, setup: this.setup, at: new Date().toISOString(), figures: Object.fromEntries(this.rows) }, null, 2)}\n`,
    );
    process.stdout.write(`\n${text}\n`);
    return text;
  }
}
