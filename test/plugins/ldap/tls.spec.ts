/**
 * bramble's CA and the LDAP server certificate, checked with the tools the Pis and admins use:
 * OpenSSL (`openssl verify`, `openssl x509 -text`), Node's TLS client, and GnuTLS's gnutls-cli
 * (nslcd's libldap is built on GnuTLS in Debian), each against a TLS server on 127.0.0.1 only.
 * Then the life of the files: reuse, re-issue of the server certificate only, and the errors that
 * keep a CA every image trusts from being replaced.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import {
  CA_VALIDITY_DAYS,
  LdapTlsError,
  RENEW_WITHIN_DAYS,
  SERVER_VALIDITY_DAYS,
  ensureLdapCertificates,
  type LdapCertificates,
  type LdapTlsErrorReason,
} from '../../../src/plugins/ldap/ldap.tls';
import { tempDir } from '../../support/temp';

const DAY_MS = 24 * 60 * 60 * 1000;
const HOSTNAMES = ['bramble.local', 'bramble'];
const IPS = ['127.0.0.1', 'fd00:0:0::7'];

/** Every line logged by any call in this file: none may hold key material. */
const logged: string[] = [];
function recorder(): {
  info(m: string, f?: object): void;
  warn(m: string, f?: object): void;
  lines: Array<{ level: string; msg: string; fields?: object }>;
} {
  const lines: Array<{ level: string; msg: string; fields?: object }> = [];
  const log = (level: string) => (msg: string, fields?: object) => {
    lines.push({ level, msg, fields });
    logged.push(`${msg} ${JSON.stringify(fields ?? {})}`);
  };
  return { info: log('info'), warn: log('warn'), lines };
}

const temps: Array<{ cleanup(): void }> = [];
function freshDir(): string {
  const t = tempDir('bramble-ldap-tls-');
  temps.push(t);
  return path.join(t.dir, 'tls');
}

function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(); // gnutls-cli reads stdin after the handshake: EOF makes it close and exit
  });
}

const has = (tool: string): boolean => ['/usr/bin', '/bin', '/usr/local/bin'].some((d) => existsSync(path.join(d, tool)));
const noOpenssl = has('openssl') ? false : 'openssl is missing (scripts/ensure-test-deps.sh installs it)';
const noGnutls = has('gnutls-cli') ? false : 'gnutls-cli is missing (gnutls-bin; scripts/ensure-test-deps.sh installs it)';

const mode = (file: string): number => statSync(file).mode & 0o777;

/** A TLS server on 127.0.0.1 with the given certificate and key; closes every connection at once. */
async function tlsServer(certs: { certPem: string; keyPem: string }): Promise<{ port: number; close(): Promise<void> }> {
  const server = tls.createServer({ cert: certs.certPem, key: certs.keyPem }, (socket) => {
    socket.on('error', () => {});
    socket.end();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Connects with Node's TLS client: null when the server was verified, else the error code. */
function nodeConnect(port: number, ca: string, servername?: string): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername, timeout: 5000 }, () => {
      socket.destroy();
      resolve(null);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.on('timeout', () => {
      socket.destroy();
      resolve('timeout');
    });
  });
}

async function rejectsWith(promise: Promise<unknown>, reason: LdapTlsErrorReason): Promise<LdapTlsError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LdapTlsError, `expected LdapTlsError ${reason}, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    assert.match(error.message, /^plugin\/ldap: tls: /);
    return error;
  }
  assert.fail(`expected LdapTlsError ${reason}`);
}

const files = (dir: string) => ({
  caKey: path.join(dir, 'ca.key'),
  caCert: path.join(dir, 'ca.crt'),
  key: path.join(dir, 'server.key'),
  cert: path.join(dir, 'server.crt'),
});

after(() => {
  for (const t of temps) t.cleanup();
});

describe('LDAP TLS: first start', () => {
  let dir: string;
  let first: LdapCertificates;
  let elapsedMs: number;
  const log = recorder();

  before(async () => {
    dir = freshDir();
    const started = process.hrtime.bigint();
    first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, logger: log });
    elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  });

  it('makes the CA and the server certificate, in files with the right modes, in a 0700 folder', (t) => {
    t.diagnostic(`first-start generation (CA + server key pairs and certificates, written): ${elapsedMs.toFixed(1)} ms`);
    const f = files(dir);
    assert.equal(first.issued, true);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(f.caKey), 0o600);
    assert.equal(mode(f.caCert), 0o600);
    assert.equal(mode(f.key), 0o600);
    assert.equal(mode(f.cert), 0o600);
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key', 'server.crt', 'server.key']);
    assert.equal(first.caCertPath, f.caCert);
    assert.equal(first.certPath, f.cert);
    assert.equal(readFileSync(f.caCert, 'utf8'), first.caCertPem);
    assert.equal(readFileSync(f.cert, 'utf8'), first.certPem);
    assert.equal(readFileSync(f.key, 'utf8'), first.keyPem);
    assert.match(readFileSync(f.caKey, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(!first.certPem.includes(first.caCertPem.trim()), 'server.crt holds the leaf only');
    assert.equal((first.certPem.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
    assert.ok(!JSON.stringify(first).includes(readFileSync(f.caKey, 'utf8').split('\n')[1]), 'the CA key is not in the result');
  });

  it('logs that a CA was made (info, not a warning: nothing trusted an earlier one) and that a certificate was issued', () => {
    assert.deepEqual(
      log.lines.map((l) => [l.level, l.msg]),
      [
        ['info', 'made the bramble CA; images install its ca.crt'],
        ['info', 'issued the LDAP server certificate'],
      ],
    );
    assert.equal((log.lines[1].fields as { reason: string }).reason, 'missing');
  });

  it('the keys are ECDSA P-256; the fingerprint and expiry returned are those of the files', () => {
    const ca = new X509Certificate(first.caCertPem);
    const leaf = new X509Certificate(first.certPem);
    assert.equal(ca.publicKey.asymmetricKeyType, 'ec');
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(first.caFingerprintSha256, ca.fingerprint256);
    assert.match(first.caFingerprintSha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(first.serverNotAfter.getTime(), new Date(leaf.validTo).getTime());
    assert.match(ca.subject, /^CN=bramble CA [0-9a-f]{8}$/);
    assert.equal(leaf.issuer, ca.subject);
    assert.ok(leaf.verify(ca.publicKey));
    // Validity: CA 10 years, server 730 days, both backdated a day for Pis whose clock is behind.
    const now = Date.now();
    const caDays = (new Date(ca.validTo).getTime() - now) / DAY_MS;
    const leafDays = (new Date(leaf.validTo).getTime() - now) / DAY_MS;
    assert.ok(Math.abs(caDays - CA_VALIDITY_DAYS) < 1, `CA valid ${caDays} days`);
    assert.ok(Math.abs(leafDays - SERVER_VALIDITY_DAYS) < 1, `server valid ${leafDays} days`);
    assert.ok(leafDays < 825, "under Apple's 825-day limit for TLS server certificates");
    const backdated = (now - new Date(leaf.validFrom).getTime()) / DAY_MS;
    assert.ok(backdated > 0.99 && backdated < 1.01, `backdated ${backdated} days`);
  });

  describe('as OpenSSL sees it', { skip: noOpenssl }, () => {
    it('openssl verify -CAfile ca.crt server.crt: OK', async () => {
      const f = files(dir);
      const r = await run('openssl', ['verify', '-CAfile', f.caCert, f.cert]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${f.cert}: OK`);
    });

    it('verification against another CA fails', async () => {
      const other = freshDir();
      await ensureLdapCertificates({ dir: other, hostnames: HOSTNAMES, ipAddresses: IPS });
      const r = await run('openssl', ['verify', '-CAfile', files(other).caCert, files(dir).cert]);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /unable to get local issuer certificate/);
    });

    it('the server certificate: SANs exactly as asked, EKU serverAuth, keyUsage digitalSignature (critical), CA:FALSE, AKI = CA SKI', async () => {
      const r = await run('openssl', ['x509', '-in', files(dir).cert, '-noout', '-text']);
      assert.equal(r.code, 0, r.stderr);
      const text = r.stdout;
      const san = /X509v3 Subject Alternative Name: *\n\s*(.+)\n/.exec(text)?.[1];
      assert.equal(san, 'DNS:bramble.local, DNS:bramble, IP Address:127.0.0.1, IP Address:FD00:0:0:0:0:0:0:7');
      assert.match(text, /X509v3 Extended Key Usage: *\n\s*TLS Web Server Authentication\n/);
      assert.match(text, /X509v3 Key Usage: critical\n\s*Digital Signature\n/);
      assert.match(text, /X509v3 Basic Constraints: *\n\s*CA:FALSE\n/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
      assert.match(text, /Subject: CN = bramble.local\n/);
      const aki = /X509v3 Authority Key Identifier: *\n\s*(?:keyid:)?([0-9A-F:]+)\n/.exec(text)?.[1];
      const caText = (await run('openssl', ['x509', '-in', files(dir).caCert, '-noout', '-text'])).stdout;
      const ski = /X509v3 Subject Key Identifier: *\n\s*([0-9A-F:]+)\n/.exec(caText)?.[1];
      assert.ok(aki && ski);
      assert.equal(aki, ski);
    });

    it('the CA certificate: CA:TRUE and keyCertSign+cRLSign, both critical; SKI; self-signed', async () => {
      const text = (await run('openssl', ['x509', '-in', files(dir).caCert, '-noout', '-text'])).stdout;
      assert.match(text, /X509v3 Basic Constraints: critical\n\s*CA:TRUE\n/);
      assert.match(text, /X509v3 Key Usage: critical\n\s*Certificate Sign, CRL Sign\n/);
      assert.match(text, /X509v3 Subject Key Identifier: *\n\s*[0-9A-F:]{59}\n/);
      const self = await run('openssl', ['verify', '-CAfile', files(dir).caCert, files(dir).caCert]);
      assert.equal(self.code, 0, self.stdout + self.stderr);
    });

    it('the fingerprint is the one openssl prints', async () => {
      const r = await run('openssl', ['x509', '-in', files(dir).caCert, '-noout', '-fingerprint', '-sha256']);
      assert.equal(r.stdout.trim(), `sha256 Fingerprint=${first.caFingerprintSha256}`);
    });
  });

  describe("a TLS server on 127.0.0.1 with the certificate, as Node's client sees it", () => {
    let server: { port: number; close(): Promise<void> };
    before(async () => {
      server = await tlsServer(first);
    });
    after(() => server.close());

    it('verified by IP (127.0.0.1) and by each hostname, trusting only ca.crt', async () => {
      assert.equal(await nodeConnect(server.port, first.caCertPem), null);
      assert.equal(await nodeConnect(server.port, first.caCertPem, 'bramble.local'), null);
      assert.equal(await nodeConnect(server.port, first.caCertPem, 'bramble'), null);
    });

    it('a name not in the certificate is refused', async () => {
      assert.equal(await nodeConnect(server.port, first.caCertPem, 'other.local'), 'ERR_TLS_CERT_ALTNAME_INVALID');
    });

    it('a client trusting another CA refuses it', async () => {
      const other = await ensureLdapCertificates({ dir: freshDir(), hostnames: HOSTNAMES, ipAddresses: IPS });
      assert.equal(await nodeConnect(server.port, other.caCertPem, 'bramble.local'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    });
  });

  describe('as GnuTLS (what nslcd uses) sees it: gnutls-cli --x509cafile ca.crt', { skip: noGnutls }, () => {
    let server: { port: number; close(): Promise<void> };
    before(async () => {
      server = await tlsServer(first);
    });
    after(() => server.close());

    const gnutls = (caFile: string, extra: string[]) =>
      run('gnutls-cli', ['--x509cafile', caFile, ...extra, '-p', String(server.port), '127.0.0.1'], 15_000);

    it('trusted, by hostname and by IP, over TLS 1.3 and TLS 1.2', async () => {
      const byName = await gnutls(files(dir).caCert, ['--verify-hostname', 'bramble.local']);
      assert.equal(byName.code, 0, byName.stdout + byName.stderr);
      assert.match(byName.stdout, /Status: The certificate is trusted/);
      assert.match(byName.stdout, /Handshake was completed/);
      const byIp = await gnutls(files(dir).caCert, []);
      assert.equal(byIp.code, 0, byIp.stdout + byIp.stderr);
      assert.match(byIp.stdout, /Status: The certificate is trusted/);
      const tls12 = await gnutls(files(dir).caCert, ['--verify-hostname', 'bramble', '--priority', 'NORMAL:-VERS-TLS1.3']);
      assert.equal(tls12.code, 0, tls12.stdout + tls12.stderr);
      assert.match(tls12.stdout, /Description: \(TLS1\.2-/);
    });

    it('not trusted under another CA, nor for another name', async () => {
      const other = freshDir();
      await ensureLdapCertificates({ dir: other, hostnames: HOSTNAMES, ipAddresses: IPS });
      const wrongCa = await gnutls(files(other).caCert, ['--verify-hostname', 'bramble.local']);
      assert.notEqual(wrongCa.code, 0);
      assert.match(wrongCa.stdout + wrongCa.stderr, /The certificate is NOT trusted/);
      const wrongName = await gnutls(files(dir).caCert, ['--verify-hostname', 'other.local']);
      assert.notEqual(wrongName.code, 0);
      assert.match(wrongName.stdout + wrongName.stderr, /does not match the expected/);
    });
  });
});

describe('LDAP TLS: later starts', () => {
  it('reuse everything when it still fits: same CA, same certificate and key, nothing issued, nothing logged', async () => {
    const dir = freshDir();
    const first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    const mtimes = readdirSync(dir).map((n) => statSync(path.join(dir, n)).mtimeMs);
    const log = recorder();
    // A subset of the names is still covered.
    const again = await ensureLdapCertificates({ dir, hostnames: ['BRAMBLE.local.'], ipAddresses: ['127.0.0.1'], logger: log });
    assert.equal(again.issued, false);
    assert.equal(again.caFingerprintSha256, first.caFingerprintSha256);
    assert.equal(again.certPem, first.certPem);
    assert.equal(again.keyPem, first.keyPem);
    assert.equal(again.serverNotAfter.getTime(), first.serverNotAfter.getTime());
    assert.deepEqual(
      readdirSync(dir).map((n) => statSync(path.join(dir, n)).mtimeMs),
      mtimes,
    );
    assert.deepEqual(log.lines, []);
  });

  it('re-issues only the server certificate when an IP (or a hostname) is added; the new one verifies under the same CA', async (t) => {
    const dir = freshDir();
    const first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    const caKey = readFileSync(files(dir).caKey, 'utf8');
    const log = recorder();
    const added = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: [...IPS, '10.1.2.3'], logger: log });
    assert.equal(added.issued, true);
    assert.equal(added.caFingerprintSha256, first.caFingerprintSha256);
    assert.equal(added.caCertPem, first.caCertPem);
    assert.equal(readFileSync(files(dir).caKey, 'utf8'), caKey, 'the CA key is untouched');
    assert.notEqual(added.certPem, first.certPem);
    assert.notEqual(added.keyPem, first.keyPem);
    assert.equal((log.lines[0].fields as { reason: string }).reason, 'names');
    const leaf = new X509Certificate(added.certPem);
    assert.match(leaf.subjectAltName ?? '', /IP Address:10\.1\.2\.3/);
    assert.ok(leaf.verify(new X509Certificate(first.caCertPem).publicKey));
    const host = await ensureLdapCertificates({ dir, hostnames: [...HOSTNAMES, 'ldap.school.example'], ipAddresses: IPS });
    assert.equal(host.issued, true);
    assert.match(new X509Certificate(host.certPem).subjectAltName ?? '', /DNS:ldap\.school\.example/);
    assert.equal(host.caFingerprintSha256, first.caFingerprintSha256);

    if (noOpenssl) t.diagnostic(noOpenssl);
    else {
      const r = await run('openssl', ['verify', '-CAfile', files(dir).caCert, files(dir).cert]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    // Issued under a CA read back from disk: GnuTLS compares the issuer name with the CA's byte for byte.
    if (noGnutls) t.diagnostic(noGnutls);
    else {
      const server = await tlsServer(host);
      try {
        const r = await run('gnutls-cli', [
          '--x509cafile',
          files(dir).caCert,
          '--verify-hostname',
          'ldap.school.example',
          '-p',
          String(server.port),
          '127.0.0.1',
        ]);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /Status: The certificate is trusted/);
      } finally {
        await server.close();
      }
    }
  });

  it(`re-issues when the certificate expires within ${RENEW_WITHIN_DAYS} days, not before`, async () => {
    const dir = freshDir();
    const first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    const notAfter = first.serverNotAfter.getTime();
    const early = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, now: new Date(notAfter - 31 * DAY_MS) });
    assert.equal(early.issued, false);
    const log = recorder();
    const late = new Date(notAfter - 29 * DAY_MS);
    const renewed = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, now: late, logger: log });
    assert.equal(renewed.issued, true);
    assert.equal((log.lines[0].fields as { reason: string }).reason, 'expiring');
    assert.equal(renewed.caFingerprintSha256, first.caFingerprintSha256);
    assert.equal(renewed.serverNotAfter.getTime(), Math.floor((late.getTime() + SERVER_VALIDITY_DAYS * DAY_MS) / 1000) * 1000);
  });

  it('re-issues when the clock is now before the certificate began (the server clock was set back)', async () => {
    const dir = freshDir();
    const first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    const began = new Date(new X509Certificate(first.certPem).validFrom).getTime();
    const log = recorder();
    const earlier = new Date(began - 2 * 60 * 60 * 1000);
    const next = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, now: earlier, logger: log });
    assert.equal(next.issued, true);
    assert.equal((log.lines[0].fields as { reason: string }).reason, 'not-yet-valid');
    assert.ok(new Date(new X509Certificate(next.certPem).validFrom).getTime() < earlier.getTime());
  });

  it('a server certificate is never valid past its CA', async () => {
    const dir = freshDir();
    const first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    const caNotAfter = new Date(new X509Certificate(first.caCertPem).validTo).getTime();
    const log = recorder();
    // 200 days before the CA ends: the certificate is cut to the CA's end, and a warning says the CA is ending.
    const late = await ensureLdapCertificates({
      dir,
      hostnames: HOSTNAMES,
      ipAddresses: IPS,
      now: new Date(caNotAfter - 200 * DAY_MS),
      logger: log,
    });
    assert.equal(late.issued, true);
    assert.equal(late.serverNotAfter.getTime(), caNotAfter);
    assert.ok(log.lines.some((l) => l.level === 'warn' && /CA expires within a year/.test(l.msg)));
  });

  describe('re-issues the server certificate (same CA) when its files are damaged', () => {
    const cases: Array<[string, string, (dir: string) => void]> = [
      ['server.crt missing', 'missing', (d) => rmSync(files(d).cert)],
      ['server.key missing', 'missing', (d) => rmSync(files(d).key)],
      ['server.crt not a certificate', 'unreadable', (d) => writeFileSync(files(d).cert, 'garbage\n')],
      ['server.key truncated', 'unreadable', (d) => writeFileSync(files(d).key, readFileSync(files(d).key, 'utf8').slice(0, 60))],
      [
        'server.key of another key pair (a crash between the two renames)',
        'key-mismatch',
        (d) =>
          writeFileSync(
            files(d).key,
            generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
          ),
      ],
    ];
    for (const [what, reason, damage] of cases) {
      it(`${what}: ${reason}`, async () => {
        const dir = freshDir();
        const first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
        damage(dir);
        const log = recorder();
        const next = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, logger: log });
        assert.equal(next.issued, true);
        assert.equal(next.caFingerprintSha256, first.caFingerprintSha256);
        assert.equal((log.lines[0].fields as { reason: string }).reason, reason);
        assert.ok(new X509Certificate(next.certPem).checkPrivateKey(createPrivateKey(next.keyPem)));
        assert.equal(mode(files(dir).key), 0o600);
      });
    }

    it('a server certificate from another CA (files copied in): other-ca', async () => {
      const dir = freshDir();
      const other = freshDir();
      const first = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
      await ensureLdapCertificates({ dir: other, hostnames: HOSTNAMES, ipAddresses: IPS });
      copyFileSync(files(other).cert, files(dir).cert);
      copyFileSync(files(other).key, files(dir).key);
      const log = recorder();
      const next = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, logger: log });
      assert.equal(next.issued, true);
      assert.equal((log.lines[0].fields as { reason: string }).reason, 'other-ca');
      assert.ok(new X509Certificate(next.certPem).verify(new X509Certificate(first.caCertPem).publicKey));
    });
  });

  it('a key another user could read is tightened back to 0600 (with a warning); certificates go back to 0600', async () => {
    const dir = freshDir();
    await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    chmodSync(files(dir).caKey, 0o644);
    chmodSync(files(dir).caCert, 0o644);
    chmodSync(dir, 0o755);
    const log = recorder();
    const next = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, logger: log });
    assert.equal(next.issued, false);
    assert.equal(mode(files(dir).caKey), 0o600);
    assert.equal(mode(files(dir).caCert), 0o600);
    assert.equal(mode(dir), 0o700);
    assert.deepEqual(
      log.lines.filter((l) => l.level === 'warn').map((l) => l.msg),
      ['tightened the LDAP TLS folder to 0700', 'tightened a private key that others could read'],
    );
  });

  it('calls at once on a new folder make one CA and one certificate', async () => {
    const dir = freshDir();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS })),
    );
    assert.equal(new Set(results.map((r) => r.caFingerprintSha256)).size, 1);
    assert.equal(new Set(results.map((r) => r.certPem)).size, 1);
    assert.deepEqual(
      results.map((r) => r.issued),
      [true, false, false, false, false],
    );
    assert.ok(new X509Certificate(readFileSync(files(dir).caCert)).checkPrivateKey(createPrivateKey(readFileSync(files(dir).caKey))));
  });

  it('temp files a crash left mid-write are removed', async () => {
    const dir = freshDir();
    await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    writeFileSync(path.join(dir, 'server.key.4242.0badcafe.tmp'), 'half a key');
    writeFileSync(path.join(dir, 'ca.key.17.deadbeef.tmp'), 'half a key');
    await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'ca.key', 'server.crt', 'server.key']);
  });
});

describe('LDAP TLS: the CA is never replaced silently', () => {
  /** A folder with a full set of files, and its CA certificate's bytes. */
  async function made(): Promise<{ dir: string; caCert: string }> {
    const dir = freshDir();
    await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS });
    return { dir, caCert: readFileSync(files(dir).caCert, 'utf8') };
  }

  const cases: Array<[string, LdapTlsErrorReason, (dir: string) => void | Promise<void>]> = [
    [
      'ca.key corrupt',
      'ca-key-unreadable',
      (d) => writeFileSync(files(d).caKey, '-----BEGIN PRIVATE KEY-----\nSECRETISHTEXT\n-----END PRIVATE KEY-----\n'),
    ],
    ['ca.key empty', 'ca-key-unreadable', (d) => writeFileSync(files(d).caKey, '')],
    ['ca.key missing', 'ca-key-missing', (d) => rmSync(files(d).caKey)],
    [
      'ca.key of another CA',
      'ca-key-mismatch',
      (d) =>
        writeFileSync(
          files(d).caKey,
          generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
        ),
    ],
    [
      'ca.key an RSA key',
      'ca-key-unsupported',
      (d) =>
        writeFileSync(
          files(d).caKey,
          generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
        ),
    ],
    ['ca.crt corrupt', 'ca-cert-unreadable', (d) => writeFileSync(files(d).caCert, 'not a certificate')],
    ['ca.crt missing, ca.key there', 'ca-cert-missing', (d) => rmSync(files(d).caCert)],
    ['ca.crt is the server certificate', 'ca-cert-not-ca', (d) => copyFileSync(files(d).cert, files(d).caCert)],
  ];
  for (const [what, reason, damage] of cases) {
    it(`${what}: ${reason}, and nothing is written`, async () => {
      const { dir } = await made();
      await damage(dir);
      const before = readdirSync(dir)
        .sort()
        .map((n) => [n, readFileSync(path.join(dir, n), 'utf8')]);
      const error = await rejectsWith(ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: [...IPS, '10.9.9.9'] }), reason);
      assert.ok(error.message.includes(dir), 'the message names the file');
      assert.doesNotMatch(error.message, /SECRETISHTEXT|BEGIN/, 'never any key text');
      if (reason !== 'ca-key-unsupported' && reason !== 'ca-cert-not-ca' && reason !== 'ca-cert-unreadable') {
        assert.match(error.message, /every image trusts this CA, so bramble will not replace it/);
      }
      const afterFiles = readdirSync(dir)
        .sort()
        .map((n) => [n, readFileSync(path.join(dir, n), 'utf8')]);
      assert.deepEqual(afterFiles, before, 'no file changed, though the server certificate lacked an IP');
    });
  }

  it('an expired CA is an error', async () => {
    const { dir } = await made();
    const caEnd = new Date(new X509Certificate(readFileSync(files(dir).caCert)).validTo).getTime();
    await rejectsWith(ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, now: new Date(caEnd + DAY_MS) }), 'ca-expired');
  });

  it('both CA files missing: a NEW CA, with a warning that images must install the new ca.crt; the server certificate follows', async () => {
    const { dir, caCert } = await made();
    rmSync(files(dir).caKey);
    rmSync(files(dir).caCert);
    const log = recorder();
    const next = await ensureLdapCertificates({ dir, hostnames: HOSTNAMES, ipAddresses: IPS, logger: log });
    assert.notEqual(next.caCertPem, caCert);
    assert.equal(next.issued, true);
    const warn = log.lines.find((l) => l.level === 'warn');
    assert.ok(warn);
    assert.match(warn.msg, /NEW bramble CA; every image must install the new ca\.crt/);
    assert.equal((warn.fields as { caFingerprintSha256: string }).caFingerprintSha256, next.caFingerprintSha256);
    assert.equal((log.lines.find((l) => l.msg.startsWith('issued'))!.fields as { reason: string }).reason, 'other-ca');
    assert.ok(new X509Certificate(next.certPem).verify(new X509Certificate(next.caCertPem).publicKey));
  });
});

describe('LDAP TLS: the names asked for', () => {
  const cases: Array<[string, string[], string[], LdapTlsErrorReason]> = [
    ['nothing', [], [], 'no-names'],
    ['a hostname with a space', ['bad name'], [], 'bad-hostname'],
    ['a label starting with a hyphen', ['-x.local'], [], 'bad-hostname'],
    ['an underscore', ['my_host'], [], 'bad-hostname'],
    ['a wildcard', ['*.local'], [], 'bad-hostname'],
    ['an IP among the hostnames', ['10.0.0.1'], [], 'bad-hostname'],
    ['an empty hostname', [''], ['10.0.0.1'], 'bad-hostname'],
    ['an IPv4 address out of range', [], ['300.1.1.1'], 'bad-ip-address'],
    ['an IPv6 address with a zone', [], ['fe80::1%eth0'], 'bad-ip-address'],
    ['a hostname among the IPs', [], ['bramble.local'], 'bad-ip-address'],
  ];
  for (const [what, hostnames, ipAddresses, reason] of cases) {
    it(`${what}: ${reason}, before anything is written`, async () => {
      const dir = freshDir();
      await rejectsWith(ensureLdapCertificates({ dir, hostnames, ipAddresses }), reason);
      assert.equal(existsSync(dir), false);
    });
  }

  it('an IP-only certificate (no hostname) is allowed; its subject CN is the address', async () => {
    const r = await ensureLdapCertificates({ dir: freshDir(), hostnames: [], ipAddresses: ['192.168.50.1'] });
    const leaf = new X509Certificate(r.certPem);
    assert.equal(leaf.subject, 'CN=192.168.50.1');
    assert.equal(leaf.subjectAltName, 'IP Address:192.168.50.1');
  });

  it('names are lower-cased, trailing dots dropped, duplicates and equal IPv6 spellings merged', async () => {
    const r = await ensureLdapCertificates({
      dir: freshDir(),
      hostnames: ['Bramble.Local.', 'bramble.local'],
      ipAddresses: ['fd00::7', 'FD00:0:0:0:0:0:0:7', '10.0.0.1', '10.0.0.1'],
    });
    assert.equal(new X509Certificate(r.certPem).subjectAltName, 'DNS:bramble.local, IP Address:FD00:0:0:0:0:0:0:7, IP Address:10.0.0.1');
  });
});

describe('LDAP TLS: logs', () => {
  it('no line logged by any call above holds key or certificate text', () => {
    assert.ok(logged.length >= 10, `${logged.length} lines logged`);
    assert.doesNotMatch(logged.join('\n'), /PRIVATE KEY|BEGIN|MI[GH][A-Za-z0-9+/]{20}/);
  });
});
