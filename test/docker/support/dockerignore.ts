import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

/**
 * .dockerignore as Docker reads it (moby/patternmatcher): patterns in order, `!` re-includes, the
 * last matching pattern wins, and a pattern that matches a parent directory matches everything
 * below it. `*` and `?` stay within one path segment, `**` spans any number of them.
 */
export class DockerIgnore {
  private readonly patterns: { readonly negated: boolean; readonly text: string; readonly re: RegExp }[];

  constructor(text: string) {
    this.patterns = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => {
        const negated = l.startsWith('!');
        const body = posix
          .normalize((negated ? l.slice(1) : l).trim())
          .replace(/^\/+/, '')
          .replace(/\/+$/, '');
        return { negated, text: body, re: toRegExp(body) };
      });
  }

  static read(contextDir: string): DockerIgnore {
    try {
      return new DockerIgnore(readFileSync(join(contextDir, '.dockerignore'), 'utf8'));
    } catch {
      return new DockerIgnore('');
    }
  }

  /** True when `path` (relative to the context, `/`-separated) is left out of the context. */
  excludes(path: string): boolean {
    const parts = path.split('/');
    let excluded = false;
    for (const p of this.patterns) {
      // An exclusion can only change an included path, a re-inclusion only an excluded one.
      if (p.negated !== excluded) continue;
      let match = p.re.test(path);
      for (let i = 1; !match && i < parts.length; i++) match = p.re.test(parts.slice(0, i).join('/'));
      if (match) excluded = !p.negated;
    }
    return excluded;
  }

  /** Files of the build context, relative and sorted; skips excluded directories nothing re-includes. */
  contextFiles(contextDir: string): string[] {
    const out: string[] = [];
    const walk = (rel: string): void => {
      for (const entry of readdirSync(join(contextDir, rel), { withFileTypes: true })) {
        const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
        if (entry.isDirectory()) {
          if (this.excludes(path) && !this.mayReinclude(path)) continue;
          walk(path);
        } else if (!this.excludes(path)) {
          out.push(path);
        }
      }
    };
    walk('');
    return out.sort();
  }

  private mayReinclude(dir: string): boolean {
    return this.patterns.some((p) => p.negated && (p.text.startsWith(`${dir}/`) || /^[*?[]/.test(p.text)));
  }
}

function toRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        re += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        re += '[^/]*';
      }
    } else if (ch === '?') {
      re += '[^/]';
    } else if (ch === '\\' && i + 1 < pattern.length) {
      re += `\\${pattern[++i]}`;
    } else {
      re += /[.+^${}()|[\]\\]/.test(ch) ? `\\${ch}` : ch;
    }
  }
  return new RegExp(`${re}$`);
}
