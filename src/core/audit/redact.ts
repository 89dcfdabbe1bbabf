/**
 * Keys whose values never leave the core through the API, the audit log or its export.
 * Plaintext secrets never reach an event at all; hashes (passwordHash, sha256 of a token) are
 * stored for verification but are redacted from every output.
 */
const SECRET_KEYS = new Set(['password', 'passwordhash', 'token', 'secret', 'privatekey', 'key']);

/**
 * Fields secret only in some events: a token's `sha256` verifies the token, while the `sha256` of
 * an image's source, a changed file or an export is what an admin checks a download against.
 */
const SECRET_FIELDS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  ApiTokenIssued: ['sha256'],
  ApiTokenRevoked: ['sha256'],
};

/** An event's data as it may leave the core: `redact` plus the secret fields of its type. */
export function redactEventData<T>(type: string, data: T): T {
  const out = redact(data);
  const fields = SECRET_FIELDS_BY_TYPE[type];
  if (!fields || out === null || typeof out !== 'object' || Array.isArray(out)) return out;
  const copy = { ...(out as Record<string, unknown>) };
  for (const f of fields) if (Object.hasOwn(copy, f)) copy[f] = REDACTED;
  return copy as T;
}

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
