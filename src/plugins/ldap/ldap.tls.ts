/**
 * bramble's own certificate authority and the LDAP server's certificate (StartTLS on 389, LDAPS on
 * 636). Pis check the server against the CA certificate installed in their image (nslcd's
 * `tls_cacertfile`), so the CA is made once and kept: every image trusts it, and replacing it would
 * cut every Pi off until its image is rebuilt. The server certificate is cheap and re-issued by the
 * same CA whenever it no longer fits: names added, expiry near, files damaged.
 *
 * Choices, and why:
 * - ECDSA P-256 with SHA-256 for both keys: GnuTLS (libldap on Debian 12, so nslcd and ldapsearch
 *   on the Pi) and OpenSSL both accept it, it is WebCrypto's native curve, and a key takes a
 *   millisecond to make (an RSA-3072 CA key takes seconds on a small server).
 * - CA: basicConstraints CA:true and keyUsage keyCertSign+cRLSign, both critical; SKI; 10 years.
 * - Server: SAN holds exactly the hostnames (dNSName) and IPs (iPAddress) asked for, nothing more;
 *   libldap checks the name the Pi dialled against them (a CN is not enough for modern clients).
 *   EKU serverAuth; keyUsage digitalSignature, critical (keyEncipherment is for RSA key transport,
 *   which an ECDSA key cannot do); AKI naming the CA's SKI; basicConstraints CA:false.
 *   Valid 730 days: neither GnuTLS nor OpenSSL limits the lifetime under a private CA, but Apple's
 *   clients refuse a TLS server certificate valid for more than 825 days, even under a CA the user
 *   installed, and an admin may well run ldapsearch from a Mac.
 * - notBefore is backdated a day: a Pi has no battery-backed clock and may boot with a time behind
 *   the server's until NTP answers.
 * - The server sends the leaf only: clients trust the CA they installed, never one sent to them.
 * - Files, in `dir` (0700): ca.key 0600 (never leaves the folder, is never logged, never in an
 *   event), ca.crt 0600 (what images install, as a copy: see CERT_MODE), server.key 0600,
 *   server.crt 0600 (leaf only). Each
 *   is written to a temp file, synced and renamed, so a crash mid-write never leaves half a key; a
 *   crash between server.key and server.crt leaves a key that does not match its certificate, and
 *   the next start re-issues both.
 * - A present ca.crt whose ca.key is missing, unreadable or does not match is an error, never a
 *   silent new CA. Only when both CA files are missing is a new CA made, with a warning when a
 *   server certificate from an earlier CA was there (images must get the new ca.crt).
 *
 * @peculiar/x509 builds the certificates on Node's WebCrypto; Node's own X509Certificate (OpenSSL)
 * checks the files read back (key match, signature by the CA).
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { X509Certificate as NodeX509Certificate, createPrivateKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export interface LdapTlsLogger {
  info(msg: string, fields?: object): void;
  warn(msg: string, fields?: object): void;
}

export interface EnsureLdapCertificatesOptions {
  /** Folder holding ca.key, ca.crt, server.key and server.crt; created 0700. */
  dir: string;
  /** DNS names the Pis use for the server (put in the SAN as dNSName). */
  hostnames: string[];
  /** Addresses the Pis use for the server (put in the SAN as iPAddress). */
  ipAddresses: string[];
  /** The time to issue and check against (tests); default now. */
  now?: Date;
  logger?: LdapTlsLogger;
}

export interface LdapCertificates {
  caCertPem: string;
  caCertPath: string;
  /** The server certificate, leaf only. */
  certPem: string;
  keyPem: string;
  certPath: string;
  /** SHA-256 of the CA certificate's DER, upper-case hex pairs joined by `:` (as `openssl x509 -fingerprint -sha256` prints it). */
  caFingerprintSha256: string;
  serverNotAfter: Date;
  /** A new server certificate was made by this call. */
  issued: boolean;
}

/** Stable reasons of LdapTlsError. */
export type LdapTlsErrorReason =
  | 'no-names'
  | 'bad-hostname'
  | 'bad-ip-address'
  | 'ca-cert-unreadable'
  | 'ca-cert-not-ca'
  | 'ca-cert-missing'
  | 'ca-key-missing'
  | 'ca-key-unreadable'
  | 'ca-key-unsupported'
  | 'ca-key-mismatch'
  | 'ca-expired';

export class LdapTlsError extends Error {
  constructor(
    readonly reason: LdapTlsErrorReason,
    message: string,
  ) {
    super(`plugin/ldap: tls: ${message}`);
    this.name = 'LdapTlsError';
  }
}

/** Why a server certificate was (re-)issued, for the log. */
export type IssueReason = 'missing' | 'unreadable' | 'key-mismatch' | 'other-ca' | 'names' | 'expiring' | 'not-yet-valid';

export const LDAP_TLS_FILES = { caKey: 'ca.key', caCert: 'ca.crt', serverKey: 'server.key', serverCert: 'server.crt' } as const;

const DAY_MS = 24 * 60 * 60 * 1000;
export const CA_VALIDITY_DAYS = 3650;
export const SERVER_VALIDITY_DAYS = 730;
/** A server certificate expiring within this many days is re-issued. */
export const RENEW_WITHIN_DAYS = 30;
const BACKDATE_MS = DAY_MS;
/** A CA with less than this left is warned about at each start. */
const CA_WARN_WITHIN_DAYS = 365;

const KEY_MODE = 0o600;
/**
 * Certificates are public, but they live in bramble's data folder, which bramble keeps 0700 with
 * every file 0600 (core/persistence/private-files.ts tightens anything looser at each start, with a
 * warning): 0644 here would be tightened, warned about and loosened again at every start. Whoever
 * needs ca.crt (an image being converted) gets a copy.
 */
const CERT_MODE = 0o600;

const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;

// ---------------------------------------------------------------------------------------------
// The names asked for

interface Names {
  hostnames: string[];
  ipAddresses: string[];
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function normalizeHostname(raw: string): string {
  const name = typeof raw === 'string' ? raw.trim().toLowerCase().replace(/\.$/, '') : '';
  if (name.length > 0 && net.isIP(name) !== 0) {
    throw new LdapTlsError('bad-hostname', `hostnames: ${JSON.stringify(raw)} is an IP address (list it in ipAddresses)`);
  }
  if (name.length === 0 || name.length > 253 || !name.split('.').every((label) => LABEL.test(label))) {
    throw new LdapTlsError('bad-hostname', `hostnames: ${JSON.stringify(raw)} is not a DNS name`);
  }
  return name;
}

/** The canonical text of an IP address (IPv6 compressed, lower case), or null. */
function canonicalIp(raw: string): string | null {
  const ip = typeof raw === 'string' ? raw.trim() : '';
  const family = ip.includes('%') ? 0 : net.isIP(ip);
  if (family === 4) return ip;
  if (family === 6) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return null;
}

function requestedNames(hostnames: string[], ipAddresses: string[]): Names {
  if (!Array.isArray(hostnames) || !Array.isArray(ipAddresses)) {
    throw new LdapTlsError('no-names', 'hostnames and ipAddresses must be lists');
  }
  const ips = ipAddresses.map((raw) => {
    const ip = canonicalIp(raw);
    if (ip === null) throw new LdapTlsError('bad-ip-address', `ipAddresses: ${JSON.stringify(raw)} is not an IP address`);
    return ip;
  });
  const names = { hostnames: [...new Set(hostnames.map(normalizeHostname))], ipAddresses: [...new Set(ips)] };
  if (names.hostnames.length === 0 && names.ipAddresses.length === 0) {
    throw new LdapTlsError('no-names', 'no hostname or IP address to put in the server certificate');
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// Files

type Read = { state: 'missing' } | { state: 'unreadable'; code: string } | { state: 'ok'; text: string };

async function readOptional(file: string): Promise<Read> {
  try {
    return { state: 'ok', text: await fs.readFile(file, 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    return code === 'ENOENT' ? { state: 'missing' } : { state: 'unreadable', code };
  }
}

const TEMP_FILE = /^(?:ca|server)\.(?:key|crt)\.\d+\.[0-9a-f]{8}\.tmp$/;

/** Writes `file` whole or not at all: a temp file in the same folder, synced, renamed over it. */
async function writeAtomic(file: string, content: string, mode: number): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await fs.open(temp, 'wx', mode);
  try {
    try {
      await handle.chmod(mode); // the umask may have taken bits away
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** Makes the renames in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `dir` at 0700 (created, or tightened with a warning); temp files a crash left are removed. */
async function prepareDir(dir: string, logger?: LdapTlsLogger): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.stat(dir);
  if ((stat.mode & 0o777) !== 0o700) {
    await fs.chmod(dir, 0o700);
    if ((stat.mode & 0o077) !== 0)
      logger?.warn('tightened the LDAP TLS folder to 0700', { dir, was: `0${(stat.mode & 0o777).toString(8)}` });
  }
  for (const name of await fs.readdir(dir)) {
    if (TEMP_FILE.test(name)) await fs.rm(path.join(dir, name), { force: true });
  }
}

/** Keys back to 0600 (warned: someone loosened one), certificates to CERT_MODE (quietly). */
async function fixMode(file: string, mode: number, logger?: LdapTlsLogger, isKey = false): Promise<void> {
  let current: number;
  try {
    current = (await fs.stat(file)).mode & 0o777;
  } catch {
    return;
  }
  if (current === mode) return;
  await fs.chmod(file, mode);
  if (isKey) logger?.warn('tightened a private key that others could read', { file, was: `0${current.toString(8)}` });
}

// ---------------------------------------------------------------------------------------------
// PEM and keys

function toPem(label: string, der: ArrayBuffer | Buffer): string {
  const base64 = Buffer.from(der as ArrayBuffer).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

function certPem(cert: x509.X509Certificate): string {
  return toPem('CERTIFICATE', cert.rawData);
}

async function newKeyPair(): Promise<{ keys: CryptoKeyPair; pem: string }> {
  const keys = (await crypto.subtle.generateKey(EC_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { keys, pem: toPem('PRIVATE KEY', pkcs8) };
}

/** A positive 127-bit serial (RFC 5280 §4.1.2.2: positive, at most 20 octets, unpredictable). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) | 0x40;
  return bytes.toString('hex');
}

function fingerprintSha256(cert: NodeX509Certificate): string {
  return cert.fingerprint256.toUpperCase();
}

function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
}

// ---------------------------------------------------------------------------------------------
// The CA

interface Ca {
  pem: string;
  cert: x509.X509Certificate;
  node: NodeX509Certificate;
  signingKey: CryptoKey;
  keyId: string;
}

function caPaths(dir: string): { key: string; cert: string } {
  return { key: path.join(dir, LDAP_TLS_FILES.caKey), cert: path.join(dir, LDAP_TLS_FILES.caCert) };
}

async function createCa(dir: string, now: Date): Promise<Ca> {
  const { keys, pem: keyPem } = await newKeyPair();
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: newSerial(),
      name: [{ CN: [`bramble CA ${randomBytes(4).toString('hex')}`] }],
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
      keys,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        ski,
      ],
    },
    crypto,
  );
  const pem = certPem(cert);
  const paths = caPaths(dir);
  // The key first: a crash between the two renames leaves ca.key without ca.crt, which the next
  // start reports (it cannot tell whether an image already has a ca.crt), never a lost key.
  await writeAtomic(paths.key, keyPem, KEY_MODE);
  await writeAtomic(paths.cert, pem, CERT_MODE);
  await syncDir(dir);
  return { pem, cert, node: new NodeX509Certificate(pem), signingKey: keys.privateKey, keyId: ski.keyId };
}

/** What to do about a CA file bramble will not replace, for the error messages. */
function keepCa(restore: string): string {
  return (
    `every image trusts this CA, so bramble will not replace it: restore ${restore}, or, to start a new CA on purpose, ` +
    'remove both ca.key and ca.crt (then every image must install the new ca.crt)'
  );
}

async function loadCa(dir: string, keyRead: Read, certRead: Read, now: Date, logger?: LdapTlsLogger): Promise<Ca> {
  const paths = caPaths(dir);
  if (certRead.state === 'missing') {
    throw new LdapTlsError(
      'ca-cert-missing',
      `${paths.key} is there but ${paths.cert} is not: ${keepCa('ca.crt (every image has a copy)')}`,
    );
  }
  if (certRead.state === 'unreadable') throw new LdapTlsError('ca-cert-unreadable', `${paths.cert} cannot be read (${certRead.code})`);
  let node: NodeX509Certificate;
  let cert: x509.X509Certificate;
  try {
    node = new NodeX509Certificate(certRead.text);
    cert = new x509.X509Certificate(certRead.text);
  } catch {
    throw new LdapTlsError('ca-cert-unreadable', `${paths.cert} is not a PEM certificate`);
  }
  if (!node.ca) throw new LdapTlsError('ca-cert-not-ca', `${paths.cert} is not a CA certificate (basicConstraints CA:true)`);

  if (keyRead.state === 'missing')
    throw new LdapTlsError('ca-key-missing', `${paths.cert} is there but ${paths.key} is not: ${keepCa('ca.key from a backup')}`);
  if (keyRead.state === 'unreadable') {
    throw new LdapTlsError(
      'ca-key-unreadable',
      `${paths.key} cannot be read (${keyRead.code}): ${keepCa('its permissions or ca.key from a backup')}`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyRead.text);
  } catch {
    // Never the parser's message: nothing of a key's text goes into an error.
    throw new LdapTlsError('ca-key-unreadable', `${paths.key} is not a PEM private key: ${keepCa('ca.key from a backup')}`);
  }
  if (!isP256(key)) throw new LdapTlsError('ca-key-unsupported', `${paths.key} is not an ECDSA P-256 key (the kind bramble makes)`);
  if (!node.checkPrivateKey(key)) {
    throw new LdapTlsError(
      'ca-key-mismatch',
      `${paths.key} is not the key of ${paths.cert}: ${keepCa('the matching ca.key from a backup')}`,
    );
  }
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw new LdapTlsError(
      'ca-expired',
      `${paths.cert} expired on ${cert.notAfter.toISOString()}: remove ca.key and ca.crt to make a new CA, and install the new ca.crt in every image`,
    );
  }
  if (cert.notAfter.getTime() - now.getTime() < CA_WARN_WITHIN_DAYS * DAY_MS) {
    logger?.warn('the bramble CA expires within a year: plan a new CA (and new images) before then', {
      caCertPath: paths.cert,
      notAfter: cert.notAfter.toISOString(),
    });
  }
  const signingKey = await crypto.subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), EC_ALGORITHM, false, ['sign']);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski?.keyId ?? (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey, false, crypto)).keyId;
  return { pem: certRead.text, cert, node, signingKey, keyId };
}

// ---------------------------------------------------------------------------------------------
// The server certificate

interface Server {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

function sanNames(cert: x509.X509Certificate): { dns: Set<string>; ip: Set<string> } {
  const dns = new Set<string>();
  const ip = new Set<string>();
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of san?.names.items ?? []) {
    if (name.type === 'dns') dns.add(name.value.toLowerCase());
    if (name.type === 'ip') {
      const canonical = canonicalIp(name.value);
      if (canonical !== null) ip.add(canonical);
    }
  }
  return { dns, ip };
}

/** The server certificate on disk when it still fits, else why not. */
async function checkServer(dir: string, ca: Ca, names: Names, now: Date): Promise<Server | IssueReason> {
  const [certRead, keyRead] = await Promise.all([
    readOptional(path.join(dir, LDAP_TLS_FILES.serverCert)),
    readOptional(path.join(dir, LDAP_TLS_FILES.serverKey)),
  ]);
  if (certRead.state === 'missing' || keyRead.state === 'missing') return 'missing';
  if (certRead.state === 'unreadable' || keyRead.state === 'unreadable') return 'unreadable';
  let node: NodeX509Certificate;
  let cert: x509.X509Certificate;
  let key: KeyObject;
  try {
    node = new NodeX509Certificate(certRead.text);
    cert = new x509.X509Certificate(certRead.text);
    key = createPrivateKey(keyRead.text);
  } catch {
    return 'unreadable';
  }
  if (!node.checkPrivateKey(key)) return 'key-mismatch';
  if (node.issuer !== ca.node.subject || !node.verify(ca.node.publicKey)) return 'other-ca';
  const san = sanNames(cert);
  if (!names.hostnames.every((h) => san.dns.has(h)) || !names.ipAddresses.every((ip) => san.ip.has(ip))) return 'names';
  if (cert.notAfter.getTime() - now.getTime() < RENEW_WITHIN_DAYS * DAY_MS) return 'expiring';
  if (cert.notBefore.getTime() > now.getTime()) return 'not-yet-valid';
  return { certPem: certRead.text, keyPem: keyRead.text, notAfter: cert.notAfter };
}

async function issueServer(dir: string, ca: Ca, names: Names, now: Date): Promise<Server> {
  const { keys, pem: keyPem } = await newKeyPair();
  const notAfter = new Date(Math.min(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS, ca.cert.notAfter.getTime()));
  const sanItems: x509.JsonGeneralNames = [
    ...names.hostnames.map((value) => ({ type: 'dns' as const, value })),
    ...names.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: newSerial(),
      subject: [{ CN: [names.hostnames[0] ?? names.ipAddresses[0]] }],
      // The CA's own encoding of its name: clients compare the issuer with it byte for byte.
      issuer: ca.cert.subjectName,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      publicKey: keys.publicKey,
      signingKey: ca.signingKey,
      signingAlgorithm: SIGNING_ALGORITHM,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, false),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension(sanItems, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        new x509.AuthorityKeyIdentifierExtension(ca.keyId, false),
      ],
    },
    crypto,
  );
  const pem = certPem(cert);
  // The key first: a crash between the renames leaves a key that does not match server.crt, and
  // the next start re-issues both.
  await writeAtomic(path.join(dir, LDAP_TLS_FILES.serverKey), keyPem, KEY_MODE);
  await writeAtomic(path.join(dir, LDAP_TLS_FILES.serverCert), pem, CERT_MODE);
  await syncDir(dir);
  return { certPem: pem, keyPem, notAfter: cert.notAfter };
}

// ---------------------------------------------------------------------------------------------

/**
 * Calls for one folder run one after the other: two at once on a new folder would each make a CA
 * and could leave one's ca.key beside the other's ca.crt. (Two bramble processes never share a
 * data directory: it is locked.)
 */
const running = new Map<string, Promise<unknown>>();

/**
 * Makes sure `dir` holds bramble's CA and a server certificate for `hostnames` and `ipAddresses`,
 * signed by it, valid for at least RENEW_WITHIN_DAYS more days; makes what is missing (see the
 * file-top comment for the rules). Throws LdapTlsError for a CA it must not replace.
 */
export function ensureLdapCertificates(options: EnsureLdapCertificatesOptions): Promise<LdapCertificates> {
  const key = path.resolve(options.dir);
  const previous = running.get(key) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => ensure(options));
  const tail = next.catch(() => undefined);
  running.set(key, tail);
  void tail.then(() => {
    if (running.get(key) === tail) running.delete(key);
  });
  return next;
}

async function ensure(options: EnsureLdapCertificatesOptions): Promise<LdapCertificates> {
  const { dir, logger } = options;
  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new TypeError('ensureLdapCertificates: now must be a valid Date');
  const names = requestedNames(options.hostnames, options.ipAddresses);
  await prepareDir(dir, logger);
  const paths = caPaths(dir);

  const [caKeyRead, caCertRead] = await Promise.all([readOptional(paths.key), readOptional(paths.cert)]);
  let ca: Ca;
  if (caKeyRead.state === 'missing' && caCertRead.state === 'missing') {
    const hadServer = (await readOptional(path.join(dir, LDAP_TLS_FILES.serverCert))).state !== 'missing';
    ca = await createCa(dir, now);
    const fields = { caCertPath: paths.cert, caFingerprintSha256: fingerprintSha256(ca.node), subject: ca.node.subject };
    if (hadServer) {
      logger?.warn('ca.key and ca.crt were missing: made a NEW bramble CA; every image must install the new ca.crt', fields);
    } else {
      logger?.info('made the bramble CA; images install its ca.crt', fields);
    }
  } else {
    ca = await loadCa(dir, caKeyRead, caCertRead, now, logger);
    await fixMode(paths.key, KEY_MODE, logger, true);
    await fixMode(paths.cert, CERT_MODE, logger);
  }

  const found = await checkServer(dir, ca, names, now);
  let server: Server;
  let issued = false;
  if (typeof found === 'string') {
    server = await issueServer(dir, ca, names, now);
    issued = true;
    logger?.info('issued the LDAP server certificate', {
      reason: found,
      certPath: path.join(dir, LDAP_TLS_FILES.serverCert),
      hostnames: names.hostnames,
      ipAddresses: names.ipAddresses,
      notAfter: server.notAfter.toISOString(),
    });
  } else {
    server = found;
    await fixMode(path.join(dir, LDAP_TLS_FILES.serverKey), KEY_MODE, logger, true);
    await fixMode(path.join(dir, LDAP_TLS_FILES.serverCert), CERT_MODE, logger);
  }

  return {
    caCertPem: ca.pem,
    caCertPath: paths.cert,
    certPem: server.certPem,
    keyPem: server.keyPem,
    certPath: path.join(dir, LDAP_TLS_FILES.serverCert),
    caFingerprintSha256: fingerprintSha256(ca.node),
    serverNotAfter: server.notAfter,
    issued,
  };
}
