/**
 * Password hashing: the one impure helper of the domain (it runs bcrypt). Command handlers call it
 * before any event is built, so events only ever hold the `{CRYPT}` hash.
 */
import { hash, verify } from '@node-rs/bcrypt';
import { validationError } from '../shared/domain-error';

export const PASSWORD_MIN_LENGTH = 8;
/** bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut. */
export const PASSWORD_MAX_BYTES = 72;
/** The LDAP scheme prefix: OpenLDAP (libxcrypt) and bramble's LDAP plugin both verify it. */
export const CRYPT_SCHEME = '{CRYPT}';
export const DEFAULT_BCRYPT_COST = 10;

/** Throws VALIDATION on `password`. Messages never include the password. */
export function validatePassword(plain: string): void {
  if (typeof plain !== 'string') throw validationError('password', 'must be a string');
  if ([...plain].length < PASSWORD_MIN_LENGTH) {
    throw validationError('password', `must be at least ${PASSWORD_MIN_LENGTH} characters`);
  }
  if (Buffer.byteLength(plain, 'utf8') > PASSWORD_MAX_BYTES) {
    throw validationError('password', `must be at most ${PASSWORD_MAX_BYTES} bytes in UTF-8`);
  }
  if (plain.includes('\0')) throw validationError('password', 'must not contain NUL');
}

/**
 * Validates, then hashes with bcrypt (random salt): `{CRYPT}$2y$10$...`. `$2y$` is the same
 * algorithm as `$2b$` and is what @node-rs/bcrypt 1.x writes; libxcrypt (OpenLDAP's crypt) reads it.
 */
export async function hashPassword(plain: string, cost: number = DEFAULT_BCRYPT_COST): Promise<string> {
  validatePassword(plain);
  return CRYPT_SCHEME + (await hash(plain, cost));
}

const BCRYPT_HASH = /^\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53}$/;
/**
 * Checked instead when the stored value is unusable, so a malformed or foreign hash costs about
 * as much time as a real one (and says nothing through timing).
 */
const DUMMY_HASH = '$2b$10$8odApFz/crMzSAbFw97Pwe.0oFnaIbmcP7mjtqLl7blGQTQ6hn50i';

/**
 * True when `plain` matches `stored` (`{CRYPT}$2b$...`, the scheme name in any case, or a bare
 * `$2b$...`). Unknown schemes, malformed hashes and impossible passwords give false: never throws.
 */
export async function verifyPassword(plain: string, stored: string): Promise<boolean> {
  try {
    let candidate = typeof stored === 'string' ? stored : '';
    if (candidate.slice(0, CRYPT_SCHEME.length).toUpperCase() === CRYPT_SCHEME) {
      candidate = candidate.slice(CRYPT_SCHEME.length);
    }
    const usable =
      typeof plain === 'string' &&
      BCRYPT_HASH.test(candidate) &&
      // hashPassword never stores these, so they cannot match (bcrypt would cut or stop early).
      Buffer.byteLength(plain, 'utf8') <= PASSWORD_MAX_BYTES &&
      !plain.includes('\0');
    if (!usable) {
      await verify('x', DUMMY_HASH).catch(() => false);
      return false;
    }
    return (await verify(plain, candidate)) === true;
  } catch {
    return false;
  }
}
