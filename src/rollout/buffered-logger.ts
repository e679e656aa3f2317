import type { Logger } from '../core/logger.ts';

/**
 * Tenants deploy in parallel, but a runner log group cannot interleave: each tenant logs into
 * its own buffer, flushed into one group when the tenant ends.
 */
export class BufferedLogger implements Logger {
  private readonly lines: { level: 'info' | 'warning' | 'error' | 'debug'; message: string }[] = [];
  info(m: string) {
    this.lines.push({ level: 'info', message: m });
  }
  warning(m: string) {
    this.lines.push({ level: 'warning', message: m });
  }
  error(m: string) {
    this.lines.push({ level: 'error', message: m });
  }
  debug(m: string) {
    this.lines.push({ level: 'debug', message: m });
  }
  async group<T>(_title: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }
  flushTo(target: Logger): void {
    // Warnings become plain lines: annotations are capped per step and the report carries failures.
    for (const l of this.lines.splice(0))
      (l.level === 'debug' ? target.debug : target.info).call(
        target,
        l.level === 'warning' || l.level === 'error' ? `${l.level}: ${l.message}` : l.message,
      );
  }
}
