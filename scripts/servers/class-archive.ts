import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { kafkaCacheDir } from './kafka-jars';
import { tailFile } from './process-utils';

const STALE_MS = 60 * 60 * 1000;

/**
 * A JVM class-data-sharing archive (AppCDS) of the broker's classes: with it the JVM maps pre-parsed
 * classes instead of loading ~ten thousand of them from jars, which halves the broker's start-up
 * (measured 2.3 s -> 1.2 s to "Kafka Server started" on 2 cores).
 *
 * The first broker records the archive when its JVM exits (-XX:ArchiveClassesAtExit, ~3 s added to that
 * one stop); later brokers use it. The JVM checks that the archive matches itself and the jars, and if
 * not, logs a warning and starts normally: such an archive is deleted so that the next broker records a
 * fresh one.
 */
export class ClassArchive {
  private recording: string | undefined;

  private constructor(private readonly archive: string) {}

  /** The archive for brokers run from `libsDir` (one per jar directory, since the archive records paths). */
  static forLibs(libsDir: string): ClassArchive {
    const key = createHash('sha256').update(libsDir).digest('hex').slice(0, 12);
    const dir = join(kafkaCacheDir(), 'cds');
    mkdirSync(dir, { recursive: true });
    removeStaleRecordings(dir);
    return new ClassArchive(join(dir, `broker-${key}.jsa`));
  }

  /** JVM flags for one broker: use the archive, or record it at exit when there is none yet. */
  jvmFlags(): string[] {
    if (existsSync(this.archive)) return [`-XX:SharedArchiveFile=${this.archive}`];
    this.recording = `${this.archive}.tmp-${process.pid}-${Date.now()}`;
    return [`-XX:ArchiveClassesAtExit=${this.recording}`];
  }

  /** Call once the broker runs: deletes an archive the JVM refused (other JVM build, changed jars). */
  checkUsed(logFile: string): void {
    if (this.recording === undefined && /Unable to use shared archive/.test(tailFile(logFile, 5_000))) {
      rmSync(this.archive, { force: true });
    }
  }

  /** Call after the JVM exited: keeps what it recorded (only a normal exit records anything). */
  afterExit(): void {
    const recorded = this.recording;
    if (recorded === undefined || !existsSync(recorded)) return;
    if (statSync(recorded).size > 0 && !existsSync(this.archive)) renameSync(recorded, this.archive);
    else rmSync(recorded, { force: true });
  }
}

/** Recordings of brokers that never stopped cleanly (killed, or stopped by the watchdog). */
function removeStaleRecordings(dir: string): void {
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    if (file.includes('.jsa.tmp-') && Date.now() - statSync(path).mtimeMs > STALE_MS) rmSync(path, { force: true });
  }
}
