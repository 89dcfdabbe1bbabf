/** How benchmarks print: one line per figure on stdout (`name key=value ...`), remarks on stderr. */

export function print(name: string, fields: Record<string, number | string | null>): void {
  const parts = Object.entries(fields).map(
    ([k, v]) => `${k}=${v === null ? 'n/a' : typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(3)) : v}`,
  );
  process.stdout.write(`${name} ${parts.join(' ')}\n`);
}

export function note(text: string): void {
  process.stderr.write(`# ${text}\n`);
}
