import { validationError } from '../shared/domain-error';

/**
 * MAC addresses as people and tools write them. Each form is matched whole, so a separator is
 * used consistently: `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff`, `aabb.ccdd.eeff` (Cisco) or
 * `aabbccddeeff`, in either case.
 */
const MAC_FORMS: readonly RegExp[] = [
  /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i,
  /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/i,
  /^[0-9a-f]{4}(\.[0-9a-f]{4}){2}$/i,
  /^[0-9a-f]{12}$/i,
];

/** The canonical form bramble uses everywhere (stream names, events, projections). */
export const CANONICAL_MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** `AA-BB-CC-DD-EE-FF`, ` aabb.ccdd.eeff `... → `aa:bb:cc:dd:ee:ff`; anything else: VALIDATION on `mac`. */
export function normalizeMac(input: string): string {
  const text = typeof input === 'string' ? input.trim() : '';
  if (!MAC_FORMS.some((form) => form.test(text))) {
    throw validationError('mac', 'not a MAC address (expected six hex bytes, e.g. aa:bb:cc:dd:ee:ff)');
  }
  const hex = text.replace(/[:.-]/g, '').toLowerCase();
  return hex.match(/../g)!.join(':');
}

/** True for a MAC already in the canonical form `aa:bb:cc:dd:ee:ff`. */
export function isCanonicalMac(mac: string): boolean {
  return typeof mac === 'string' && CANONICAL_MAC_PATTERN.test(mac);
}

/** A client name becomes the Pi's hostname: one DNS label (RFC 1123), 1–63 characters. */
export const CLIENT_NAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isValidClientName(name: string): boolean {
  return typeof name === 'string' && CLIENT_NAME_PATTERN.test(name);
}

/** Throws VALIDATION on `name` unless `name` is a valid client name. */
export function validateClientName(name: string): void {
  if (!isValidClientName(name)) {
    throw validationError(
      'name',
      'must be a hostname: 1-63 letters, digits or hyphens, not starting or ending with a hyphen',
    );
  }
}
