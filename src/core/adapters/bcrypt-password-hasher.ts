/**
 * The password hasher (port: commands/ports.ts) on bcrypt: `{CRYPT}$2y$10$...` with a random salt.
 * `$2y$` is the same algorithm as `$2b$` and is what @node-rs/bcrypt 1.x writes; libxcrypt
 * (OpenLDAP's crypt) and bramble's LDAP plugin verify it. Also the check of a password against a
 * stored hash, for the LDAP plugin and tests.
 *
 * The check runs through libxcrypt's `crypt_rn` (libcrypt.so.1: the library slapd and a Pi's own
 * PAM use), called through koffi on the libuv thread pool, when it is there, and through
 * @node-rs/bcrypt otherwise. Measured with bench/ldap.bench.js: one check of a cost-10 hash took
 * 68.9 ms with @node-rs/bcrypt and 59.0 ms with libxcrypt, and a login's time is mostly that check,
 * so 30 simultaneous logins had a p99 1.16× slapd's with @node-rs/bcrypt.
 */
import { timingSafeEqual } from 'node:crypto';
import { hash, verify } from '@node-rs/bcrypt';
import koffi from 'koffi';
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
      await check('x', DUMMY_HASH);
      return false;
    }
    return await check(plain, candidate);
  } catch {
    return false;
  }
}

type CryptRn = ((phrase: string, setting: string, data: Buffer, size: number) => string | null) & {
  async(phrase: string, setting: string, data: Buffer, size: number, done: (error: unknown, result: string | null) => void): void;
};

/** sizeof(struct crypt_data) is 32,384 bytes in libxcrypt 4; crypt_rn wants at least that. */
const CRYPT_DATA_BYTES = 32 * 1024;
let cryptRn: CryptRn | null | undefined;

function libxcrypt(): CryptRn | null {
  if (cryptRn === undefined) {
    try {
      cryptRn = koffi.load('libcrypt.so.1').func('const char *crypt_rn(const char *, const char *, void *, int)') as CryptRn;
    } catch {
      cryptRn = null;
    }
  }
  return cryptRn;
}

/** bcrypt check of a usable password against a bare `$2?$` hash, off the event loop. */
async function check(plain: string, bcryptHash: string): Promise<boolean> {
  const fn = libxcrypt();
  if (!fn) return (await verify(plain, bcryptHash).catch(() => false)) === true;
  const data = Buffer.alloc(CRYPT_DATA_BYTES);
  const out = await new Promise<string | null>((resolve) =>
    fn.async(plain, bcryptHash, data, data.length, (error, result) => resolve(error ? null : result)),
  );
  // A failure is NULL or a string starting with `*` (libxcrypt's failure tokens).
  if (typeof out !== 'string' || out.startsWith('*')) return false;
  const a = Buffer.from(out, 'latin1');
  const b = Buffer.from(bcryptHash, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}
