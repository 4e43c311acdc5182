import { readFileSync } from 'node:fs';

/**
 * A Dockerfile parser for checks and the build rehearsal: enough of the reference's syntax for what
 * docker/Dockerfile uses (parser directives, comments, `\` continuations, flags, exec and shell
 * forms, stages, ARG/ENV substitution), with an error naming the line for anything it does not know.
 */

export interface Instruction {
  /** Upper case: FROM, RUN, COPY... */
  readonly keyword: string;
  /** `--name=value` flags before the arguments, by name (a flag may repeat, e.g. --mount). */
  readonly flags: Readonly<Record<string, readonly string[]>>;
  /** The arguments as written, flags removed, continuations joined. */
  readonly args: string;
  /** Exec form (`["a", "b"]`) when the arguments are a JSON array of strings. */
  readonly exec?: readonly string[];
  /** Line of the keyword, 1-based. */
  readonly line: number;
}

export interface Stage {
  readonly index: number;
  readonly name?: string;
  /** Image or stage reference as written (may contain ${VAR}). */
  readonly from: string;
  readonly fromInstruction: Instruction;
  readonly instructions: readonly Instruction[];
}

export interface Dockerfile {
  readonly directives: Readonly<Record<string, string>>;
  /** ARG instructions before the first FROM. */
  readonly globalArgs: readonly Instruction[];
  readonly stages: readonly Stage[];
}

const KEYWORDS = new Set([
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

export function readDockerfile(path: string): Dockerfile {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.split('\n');
  const directives: Record<string, string> = {};
  let i = 0;
  // Parser directives: `# key=value` lines at the very top, before any other line.
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S+)\s*$/.exec(lines[i]);
    if (!m) break;
    directives[m[1].toLowerCase()] = m[2];
  }

  const instructions: Instruction[] = [];
  while (i < lines.length) {
    const raw = lines[i];
    if (raw.trim() === '' || raw.trim().startsWith('#')) {
      i++;
      continue;
    }
    const line = i + 1;
    let joined = '';
    // Continuation: a trailing backslash; comment and empty lines inside a continuation are dropped.
    for (;;) {
      const current = lines[i] ?? '';
      i++;
      if (current.trim().startsWith('#') && joined !== '') continue;
      const m = /^(.*?)\\\s*$/.exec(current);
      if (m) {
        joined += `${m[1]} `;
        if (i >= lines.length) break;
        continue;
      }
      joined += current;
      break;
    }
    instructions.push(parseInstruction(joined.trim(), line));
  }

  const globalArgs: Instruction[] = [];
  const stages: {
    index: number;
    name?: string;
    from: string;
    fromInstruction: Instruction;
    instructions: Instruction[];
  }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`line ${ins.line}: FROM expects "image [AS name]", got "${ins.args}"`);
      stages.push({
        index: stages.length,
        name: m[2]?.toLowerCase(),
        from: m[1],
        fromInstruction: ins,
        instructions: [],
      });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: only ARG may come before the first FROM`);
      globalArgs.push(ins);
    } else {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { directives, globalArgs, stages };
}

function parseInstruction(text: string, line: number): Instruction {
  const m = /^(\S+)\s*(.*)$/s.exec(text);
  if (!m) throw new Error(`line ${line}: empty instruction`);
  const keyword = m[1].toUpperCase();
  if (!KEYWORDS.has(keyword)) throw new Error(`line ${line}: unknown instruction ${m[1]}`);
  let rest = m[2];
  const flags: Record<string, string[]> = {};
  // Flags come first; HEALTHCHECK's (--interval...) too, before CMD.
  for (;;) {
    const f = /^--([a-z-]+)(?:=(\S+))?\s*/.exec(rest);
    if (!f) break;
    (flags[f[1]] ??= []).push(f[2] ?? 'true');
    rest = rest.slice(f[0].length);
  }
  const args = rest.trim();
  let exec: string[] | undefined;
  if (['RUN', 'CMD', 'ENTRYPOINT', 'SHELL', 'COPY', 'ADD', 'VOLUME'].includes(keyword) && args.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(args);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) exec = parsed;
    } catch {
      // Not JSON: Docker then runs it in shell form, and so do we.
    }
  }
  return { keyword, flags, args, exec, line };
}

/** Words of a shell-form argument list, honouring quotes (enough for COPY, EXPOSE, ENV). */
export function words(args: string): string[] {
  const out: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < args.length; i++) {
    const ch = args[i];
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < args.length) word += args[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      word ??= '';
    } else if (/\s/.test(ch)) {
      if (word !== undefined) out.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + (ch === '\\' && i + 1 < args.length ? args[++i] : ch);
    }
  }
  if (quote) throw new Error(`unterminated ${quote} in: ${args}`);
  if (word !== undefined) out.push(word);
  return out;
}

/** `KEY=value ...` pairs of ENV, ARG and LABEL (also the legacy `ENV KEY value`). */
export function keyValues(ins: Instruction): [string, string | undefined][] {
  const ws = words(ins.args);
  if (ins.keyword === 'ENV' && ws.length >= 2 && !ws[0].includes('=')) return [[ws[0], ws.slice(1).join(' ')]];
  return ws.map((w) => {
    const eq = w.indexOf('=');
    return eq < 0 ? [w, undefined] : [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/**
 * Docker's variable substitution (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR:+alt}`), in the
 * instructions that support it (FROM, COPY, ENV, EXPOSE, WORKDIR, USER, LABEL...). Unknown
 * variables become empty, as in Docker.
 */
export function substitute(text: string, vars: Readonly<Record<string, string | undefined>>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (...m) => {
    const name = (m[1] ?? m[4]) as string;
    const op = m[2] as string | undefined;
    const word = (m[3] as string | undefined) ?? '';
    const value = vars[name];
    if (op === '-') return value === undefined || value === '' ? word : value;
    if (op === '+') return value === undefined || value === '' ? '' : word;
    return value ?? '';
  });
}

export interface ResolvedStage {
  readonly stage: Stage;
  /** The FROM reference after substitution. */
  readonly from: string;
  /** The stage this one starts from, when FROM names a stage; else undefined (an image). */
  readonly parent?: ResolvedStage;
}

/**
 * The stages a build of the last stage runs, in order, with FROM resolved against the global ARGs
 * and the build arguments (what BuildKit does: stages the target does not need are skipped).
 */
export function stagesFor(df: Dockerfile, buildArgs: Readonly<Record<string, string>>): ResolvedStage[] {
  const globals: Record<string, string | undefined> = {};
  for (const ins of df.globalArgs) {
    for (const [k, v] of keyValues(ins)) globals[k] = buildArgs[k] ?? v;
  }
  const byName = new Map(df.stages.filter((s) => s.name).map((s) => [s.name as string, s]));
  const resolved = new Map<Stage, ResolvedStage>();
  const order: ResolvedStage[] = [];
  const visit = (stage: Stage, path: readonly Stage[]): ResolvedStage => {
    const done = resolved.get(stage);
    if (done) return done;
    if (path.includes(stage)) throw new Error(`stage ${stage.name ?? stage.index} depends on itself`);
    const from = substitute(stage.from, globals);
    const parentStage = byName.get(from.toLowerCase());
    const parent = parentStage ? visit(parentStage, [...path, stage]) : undefined;
    for (const ins of stage.instructions) {
      const source = ins.flags.from?.[0];
      if (source === undefined) continue;
      const s = byName.get(source.toLowerCase()) ?? df.stages[Number(source)];
      if (s) visit(s, [...path, stage]);
    }
    const r: ResolvedStage = { stage, from, parent };
    resolved.set(stage, r);
    order.push(r);
    return r;
  };
  visit(df.stages[df.stages.length - 1], []);
  return order;
}

/** The stage by name; throws naming the stages there are. */
export function stageNamed(df: Dockerfile, name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage "${name}" (stages: ${df.stages.map((x) => x.name ?? x.index).join(', ')})`);
  return s;
}

/** The stage's instructions including those of the stages it starts FROM, oldest first. */
export function lineage(r: ResolvedStage): Instruction[] {
  return [...(r.parent ? lineage(r.parent) : []), ...r.stage.instructions];
}
