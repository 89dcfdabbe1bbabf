import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { verify as nodeRsVerify } from '@node-rs/bcrypt';
import { BcryptPasswordHasher, verifyPassword } from '../../../src/core/adapters/bcrypt-password-hasher';
import { validatePassword } from '../../../src/core/domain/user/password';

const hashPassword = (plain: string, cost?: number): Promise<string> => new BcryptPasswordHasher(cost).hash(plain);
import { isCryptHash } from '../../../src/core/domain/user/user.decider';
import { assertDomainError } from '../../support/given-when-then';

const COST = 4;

describe('validatePassword', () => {
  it('accepts 8 characters', () => {
    assert.doesNotThrow(() => validatePassword('abcdefgh'));
  });

  it('rejects 7 characters, naming the field and not the password', () => {
    const error = assertDomainError(() => validatePassword('abcdefg'), 'VALIDATION', 'password');
    assert.doesNotMatch(error.message, /abcdefg/);
  });

  it('counts characters, not bytes, for the minimum', () => {
    assertDomainError(() => validatePassword('ééééééé'), 'VALIDATION', 'password');
    validatePassword('éééééééé');
  });

  it('accepts 72 bytes and rejects 73 (bcrypt reads only 72)', () => {
    validatePassword('a'.repeat(72));
    assertDomainError(() => validatePassword('a'.repeat(73)), 'VALIDATION', 'password');
  });

  it('counts UTF-8 bytes for the maximum', () => {
    validatePassword('é'.repeat(36)); // 72 bytes
    const error = assertDomainError(() => validatePassword('é'.repeat(37)), 'VALIDATION', 'password');
    assert.match(error.message, /72 bytes/);
  });

  it('rejects NUL', () => {
    assertDomainError(() => validatePassword('abcd\0efgh'), 'VALIDATION', 'password');
  });
});

describe('BcryptPasswordHasher (the password port) and verifyPassword', () => {
  it('hashes to {CRYPT}$2y$ (bcrypt, the same algorithm as $2b$) with the cost asked for', async () => {
    const stored = await hashPassword('correct horse', COST);
    assert.match(stored, /^\{CRYPT\}\$2y\$04\$[./A-Za-z0-9]{53}$/);
    assert.ok(isCryptHash(stored), 'the user decider accepts it');
  });

  it('uses cost 10 by default', async () => {
    assert.match(await hashPassword('correct horse'), /^\{CRYPT\}\$2y\$10\$/);
  });

  it('salts: the same password hashes differently each time', async () => {
    const a = await hashPassword('correct horse', COST);
    const b = await hashPassword('correct horse', COST);
    assert.notEqual(a, b);
  });

  it('a hash never contains the plaintext', async () => {
    for (const plain of ['password', 'abcdefgh', '$2b$04$aaaa', 'CRYPTCRYPT', 'aaaaaaaaaaaaaaaaaaaaaa']) {
      const stored = await hashPassword(plain, COST);
      assert.ok(!stored.includes(plain), `hash of ${plain} contains it`);
    }
  });

  it('refuses to hash an invalid password', async () => {
    await assert.rejects(hashPassword('short', COST), (error: unknown) => {
      assert.equal((error as { code?: string }).code, 'VALIDATION');
      return true;
    });
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse', COST);
    assert.equal(await verifyPassword('correct horse', stored), true);
    assert.equal(await verifyPassword('correct horsE', stored), false);
    assert.equal(await verifyPassword('', stored), false);
  });

  it('verifies without the {CRYPT} prefix, and with the scheme in lower case', async () => {
    const stored = await hashPassword('correct horse', COST);
    const bare = stored.slice('{CRYPT}'.length);
    assert.equal(await verifyPassword('correct horse', bare), true);
    assert.equal(await verifyPassword('correct horse', `{crypt}${bare}`), true);
  });

  it('a 72-byte password verifies; one byte more does not (no silent truncation)', async () => {
    const plain = 'p'.repeat(72);
    const stored = await hashPassword(plain, COST);
    assert.equal(await verifyPassword(plain, stored), true);
    assert.equal(await verifyPassword(`${plain}x`, stored), false);
  });

  it('unknown schemes give false', async () => {
    assert.equal(await verifyPassword('secret12', '{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g='), false);
    assert.equal(await verifyPassword('secret12', '{CLEARTEXT}secret12'), false);
    assert.equal(await verifyPassword('secret12', 'secret12'), false, 'a plaintext stored value never matches');
    assert.equal(await verifyPassword('secret12', '{CRYPT}$6$salt$abcdef'), false);
  });

  it('malformed hashes give false without throwing', async () => {
    for (const stored of ['', '{CRYPT}', '{CRYPT}$2b$', '$2b$04$tooShort', '$2b$99$' + 'a'.repeat(53), '\0', 'ü'.repeat(60)]) {
      assert.equal(await verifyPassword('secret12', stored), false, JSON.stringify(stored));
    }
    assert.equal(await verifyPassword('secret12', undefined as unknown as string), false);
    assert.equal(await verifyPassword(undefined as unknown as string, '$2b$04$' + 'a'.repeat(53)), false);
  });

  it('the check (libxcrypt crypt_rn) agrees with @node-rs/bcrypt on every password, non-ASCII ones included', async () => {
    const passwords = ['correct horse', 'Ünïcødé-pässwörd ✓', 'x'.repeat(72), '日本語のパスワード', ' spaced out '];
    for (const plain of passwords) {
      const stored = await hashPassword(plain, COST);
      const bare = stored.slice('{CRYPT}'.length);
      assert.equal(await verifyPassword(plain, stored), true, plain);
      assert.equal(await nodeRsVerify(plain, bare), true, plain);
      const wrong = `${plain.slice(0, -1)}${plain.endsWith('e') ? 'f' : 'e'}`;
      assert.equal(await verifyPassword(wrong, stored), false, wrong);
      assert.equal(await nodeRsVerify(wrong, bare), false, wrong);
    }
    // A hash libxcrypt cannot read (a cost it refuses) is a failure, not an error.
    assert.equal(await verifyPassword('secret12', `$2y$99$${'a'.repeat(53)}`), false);
  });
});
