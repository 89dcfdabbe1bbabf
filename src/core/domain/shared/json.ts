/** A JSON object: not null, not an array (what stored event data and checkpoint files hold). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
