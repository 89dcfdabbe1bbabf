/**
 * Keys whose values never leave the core through the API, the audit log or its export.
 * Plaintext secrets never reach an event at all; hashes (passwordHash, sha256 of a token) are
 * stored for verification but are redacted from every output.
 */
const SECRET_KEYS = new Set(['password', 'passwordhash', 'sha256', 'token', 'secret', 'privatekey', 'key']);

export const REDACTED = '[redacted]';

export function redact<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => redact(v)) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) ? REDACTED : redact(v);
  }
  return out as T;
}
