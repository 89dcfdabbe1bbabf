/** Text rendering of the emulator's results (the CLI's output). Pure. */
import type { PiResult, TimelineEntry } from './emulator';

/** One line of a live or final timeline: `  1234 ms  pi4-1  FIRMWARE  file  config.txt  (…)`. */
export function formatEntry(name: string, e: TimelineEntry, nameWidth = 12): string {
  const parts = [`${String(e.t).padStart(7)} ms`, name.padEnd(nameWidth), e.stage.padEnd(14), e.event];
  if (e.file) parts.push(e.file);
  if (e.detail) parts.push(`(${e.detail})`);
  return parts.join('  ');
}

/** The per-Pi summary after the run. */
export function formatSummary(results: PiResult[]): string {
  const width = Math.max(4, ...results.map((r) => r.name.length));
  const lines = [`${'name'.padEnd(width)}  model  outcome  stage           ms      attempts  files  cause`];
  for (const r of results) {
    const files = r.files.filter((f) => f.status === 'ok').length;
    lines.push(
      [
        r.name.padEnd(width),
        r.model.padEnd(5),
        r.outcome.padEnd(7),
        (r.stage ?? '-').padEnd(14),
        String(r.ms).padStart(7),
        String(r.attempts).padStart(8),
        String(files).padStart(5),
        r.cause ?? '',
      ].join('  '),
    );
  }
  return lines.join('\n');
}
