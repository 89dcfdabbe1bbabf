import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { JsonLogger, type Logger } from '../../src/core/logging/logger';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'bramble-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  // Retries: a child process (Chromium's helpers) may still be writing into it for a moment.
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 }) };
}

/**
 * Removes temp directories named `<prefix><pid>-...` whose process is gone: what runs killed before
 * their teardown left behind (a run still going keeps its own).
 */
export function removeStaleTempDirs(prefix: string): void {
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${prefix}(\\d+)-`).exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
    }
  }
}

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A logger that records every line, for asserting on warnings. */
export function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: new JsonLogger('debug', undefined, (line) => lines.push(JSON.parse(line))), lines };
}
