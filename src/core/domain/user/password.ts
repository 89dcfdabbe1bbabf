/**
 * Password rules (pure). Hashing is I/O-heavy crypto and lives behind the PasswordHasher port
 * (adapters/bcrypt-password-hasher.ts): handlers hash before any event is built, so events only
 * ever hold the `{CRYPT}` hash.
 */
import { validationError } from '../shared/domain-error';

export const PASSWORD_MIN_LENGTH = 8;
/** bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut. */
export const PASSWORD_MAX_BYTES = 72;
/** The LDAP scheme prefix: OpenLDAP (libxcrypt) and bramble's LDAP plugin both verify it. */
export const CRYPT_SCHEME = '{CRYPT}';

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
