/**
 * The password hasher (port: commands/ports.ts) on bcrypt: `{CRYPT}$2y$10$...` with a random salt.
 * `$2y$` is the same algorithm as `$2b$` and is what @node-rs/bcrypt 1.x writes; libxcrypt
 * (OpenLDAP's crypt) and bramble's LDAP plugin verify it. Also the check of a password against a
 * stored hash, for the LDAP plugin and tests.
 */
import { hash, verify } from '@node-rs/bcrypt';
import type { PasswordHasher } from '../commands/ports';
import { CRYPT_SCHEME, PASSWORD_MAX_BYTES, validatePassword } from '../domain/user/password';

export const DEFAULT_BCRYPT_COST = 10;

export class BcryptPasswordHasher implements PasswordHasher {
  constructor(private readonly cost: number = DEFAULT_BCRYPT_COST) {}

  async hash(plain: string): Promise<string> {
    validatePassword(plain);
    return CRYPT_SCHEME + (await hash(plain, this.cost));
  }
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
      // The hasher never stores these, so they cannot match (bcrypt would cut or stop early).
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
