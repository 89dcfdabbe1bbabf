/**
 * The logger every part of bramble receives (the plugin contract's Logger: structured, a message
 * plus fields; per-packet logs are `debug`; never a secret in a message or a field).
 */
import type { Logger } from '../plugin-api/plugin';

export type { Logger };

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Writes one JSON object per line to stderr (or the given sink). */
export class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel = 'info',
    private readonly component?: string,
    private readonly sink: (line: string) => void = (line) => process.stderr.write(line + '\n'),
  ) {}

  private write(level: Exclude<LogLevel, 'silent'>, message: string, fields?: Record<string, unknown>): void {
    if (rank[level] < rank[this.level]) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level };
    if (this.component) entry.component = this.component;
    entry.msg = message;
    if (fields) {
      for (const [k, v] of Object.entries(fields))
        entry[k] = v instanceof Error ? { message: v.message, code: (v as { code?: unknown }).code } : v;
    }
    this.sink(JSON.stringify(entry));
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.write('error', message, fields);
  }
  child(component: string): Logger {
    return new JsonLogger(this.level, this.component ? `${this.component}/${component}` : component, this.sink);
  }
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = new JsonLogger('silent');
