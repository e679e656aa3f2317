import type { Logger } from '../../src/core/logger.ts';
import type { Secrets } from '../../src/core/secrets.ts';

/** Records every line (redacted like the real adapter does) so tests can assert what a user sees. */
export class RecordingLogger implements Logger {
  readonly lines: { level: 'info' | 'warning' | 'error' | 'debug' | 'group'; message: string }[] = [];
  constructor(private readonly secrets?: Secrets) {}
  private push(level: RecordingLogger['lines'][number]['level'], m: string) {
    this.lines.push({ level, message: this.secrets ? this.secrets.redact(m) : m });
  }
  info(m: string) {
    this.push('info', m);
  }
  warning(m: string) {
    this.push('warning', m);
  }
  error(m: string) {
    this.push('error', m);
  }
  debug(m: string) {
    this.push('debug', m);
  }
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.push('group', title);
    return fn();
  }
  text(): string {
    return this.lines.map((l) => `${l.level}: ${l.message}`).join('\n');
  }
}
