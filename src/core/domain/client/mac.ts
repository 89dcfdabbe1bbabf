import { CANONICAL_MAC_PATTERN, isCanonicalMac, macProblem, parseMac } from '../../plugin-api/net';
import { validationError } from '../shared/domain-error';

export { CANONICAL_MAC_PATTERN, isCanonicalMac };

/**
 * `AA-BB-CC-DD-EE-FF`, ` aabb.ccdd.eeff `... → `aa:bb:cc:dd:ee:ff`. VALIDATION on `field` when it is
 * not a MAC, or not one machine's (all-zero, broadcast, multicast).
 */
export function normalizeMac(input: string, field = 'mac'): string {
  const mac = parseMac(input);
  if (mac === null) throw validationError(field, 'not a MAC address (expected six hex bytes, e.g. aa:bb:cc:dd:ee:ff)');
  const problem = macProblem(mac);
  if (problem) throw validationError(field, `${mac}: ${problem}`);
  return mac;
}

/** A client name becomes the Pi's hostname: one DNS label (RFC 1123), 1–63 characters. */
export const CLIENT_NAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export function isValidClientName(name: string): boolean {
  return typeof name === 'string' && CLIENT_NAME_PATTERN.test(name);
}

/** Throws VALIDATION on `name` unless `name` is a valid client name. */
export function validateClientName(name: string): void {
  if (!isValidClientName(name)) {
    throw validationError('name', 'must be a hostname: 1-63 letters, digits or hyphens, not starting or ending with a hyphen');
  }
}
