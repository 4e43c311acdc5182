import { createWriteStream, mkdirSync, WriteStream } from 'node:fs';
import { join } from 'node:path';

const WIDTH = 12;

/**
 * Where the stack's output goes: one file per source under `dir` (`gateway.log`, ..., and the stack's
 * own `stack.log`), and every line also on stdout, prefixed with its source, so one terminal shows
 * the whole stack. The servers write their own files here (`kafka.log`, `postgres.log`).
 */
export class LogSink {
  private readonly files = new Map<string, WriteStream>();

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  fileOf(source: string): string {
    return join(this.dir, `${source}.log`);
  }

  line(source: string, text: string): void {
    this.file(source).write(`${text}\n`);
    process.stdout.write(`${source.padEnd(WIDTH)}| ${text}\n`);
  }

  /** A message of the stack itself (several lines allowed). */
  note(text: string): void {
    const stamped = `${new Date().toISOString()} ${text}`;
    for (const line of stamped.split('\n')) this.line('stack', line);
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => new Promise<void>((done) => f.end(done))));
    this.files.clear();
  }

  private file(source: string): WriteStream {
    let file = this.files.get(source);
    if (file === undefined) {
      file = createWriteStream(this.fileOf(source), { flags: 'a' });
      this.files.set(source, file);
    }
    return file;
  }
}
