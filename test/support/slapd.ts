/**
 * OpenLDAP's slapd as a child process in an LDAP lab's server namespace: the reference server the
 * lab's real-client tests are proven against, and a peer to compare bramble's answers with.
 *
 * Nothing of the host's slapd installation is used or changed (no /etc/ldap/slapd.d, no
 * /var/lib/ldap, no /run/slapd): every start writes its own slapd.conf, database, pid and args files
 * into a temp folder inside the lab's, checks the configuration with `slaptest -u`, loads the
 * entries with `slapadd` (offline, so no administrator bind is needed and none is configured), and
 * runs `slapd -d stats` (foreground, its log kept) listening only on the lab's server address (or
 * the `ip` option): `ldap://IP:389/` (with StartTLS when given a certificate) and `ldaps://IP:636/`.
 * No ldapi socket.
 *
 * The schema is what a Pi's accounts need (core, cosine, inetorgperson, nis: posixAccount,
 * shadowAccount, posixGroup) and the access rules are bramble's: anyone reads everything except
 * userPassword, which serves only to check a simple bind (`by anonymous auth`). Passwords are
 * `{CRYPT}` values that slapd checks with crypt(3): on Debian 12 that is libxcrypt, which knows
 * bcrypt's `$2y$`/`$2b$` — the hashes bramble stores (@node-rs/bcrypt writes `$2y$`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { LdapLab, TestCa } from './ldap-lab';
import { waitForExit } from './netlab';

const execFileP = promisify(execFile);
const SCHEMA_DIR = '/etc/ldap/schema';
const SCHEMAS = ['core', 'cosine', 'inetorgperson', 'nis'];
let slapdCounter = 0;

export interface SlapdOptions {
  /** Entries loaded before start (the suffix entry first), as LDIF. */
  ldif: string;
  /** Default `dc=bramble,dc=local` (bramble's default base DN). */
  suffix?: string;
  /**
   * The address slapd listens on, default the lab's server address. Another address of the server
   * namespace (one the caller added) lets slapd run beside a server that already holds 389 and 636
   * there: the conformance test runs bramble and slapd at once.
   */
  ip?: string;
  /** Certificate, key and CA: StartTLS on 389 and LDAPS on 636. null: plain LDAP on 389 only. */
  tls: TestCa | null;
  /** Default 10 s. */
  startTimeoutMs?: number;
  /**
   * slapd's `-d` level (it runs in the foreground either way): default `stats`, one line per
   * connection and operation plus every error (`0` prints nothing, not even why TLS failed to
   * start; use it only where logging would distort a measurement).
   */
  logLevel?: string;
  /**
   * `index` lines of the database (e.g. `objectClass eq`, `uid,memberUid eq`): none by default, so
   * every search scans the whole database. A benchmark gives slapd the equality indexes a real
   * deployment of nslcd's directory has (slapadd builds them while loading).
   */
  indexes?: string[];
}

export interface Slapd {
  readonly pid: number;
  readonly suffix: string;
  /** `ldap://<ip>:389/`. */
  readonly uri: string;
  /** `ldaps://<ip>:636/`, or null without TLS. */
  readonly ldapsUri: string | null;
  /** The CA clients must trust, or null without TLS. */
  readonly caFile: string | null;
  /** Its folder (configuration, database), removed by stop(). */
  readonly dir: string;
  /** slapd's output so far (bounded). */
  log(): string;
  /** Stops slapd (SIGTERM, then SIGKILL) and removes its folder. */
  stop(): Promise<void>;
}

/** Why slapd cannot run here, or null (the lab's own checks come from ldapLabUnavailable()). */
export function slapdUnavailable(): string | null {
  for (const tool of ['/usr/sbin/slapd', '/usr/sbin/slaptest', '/usr/sbin/slapadd']) {
    if (!existsSync(tool)) return `${tool} is missing (scripts/ensure-test-deps.sh installs slapd)`;
  }
  for (const schema of SCHEMAS) {
    if (!existsSync(path.join(SCHEMA_DIR, `${schema}.schema`))) return `${SCHEMA_DIR}/${schema}.schema is missing`;
  }
  return null;
}

/** slapd.conf for one run: everything in `dir`. */
export function slapdConfig(dir: string, suffix: string, tls: TestCa | null, indexes: readonly string[] = []): string {
  const q = (s: string): string => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  return [
    ...SCHEMAS.map((s) => `include ${q(path.join(SCHEMA_DIR, `${s}.schema`))}`),
    `pidfile ${q(path.join(dir, 'slapd.pid'))}`,
    `argsfile ${q(path.join(dir, 'slapd.args'))}`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    ...(tls
      ? [`TLSCACertificateFile ${q(tls.caFile)}`, `TLSCertificateFile ${q(tls.certFile)}`, `TLSCertificateKeyFile ${q(tls.keyFile)}`]
      : []),
    // bramble's rules: userPassword only checks binds; everything else is readable by anyone.
    'access to attrs=userPassword',
    '  by anonymous auth',
    '  by * none',
    'access to *',
    '  by * read',
    'database mdb',
    `suffix ${q(suffix)}`,
    `directory ${q(path.join(dir, 'db'))}`,
    'maxsize 16777216',
    ...indexes.map((index) => `index ${index}`),
    '',
  ].join('\n');
}

/** Starts slapd in `lab`'s server namespace with `options.ldif` loaded; resolves once it answers. */
export async function startSlapd(lab: LdapLab, options: SlapdOptions): Promise<Slapd> {
  const suffix = options.suffix ?? 'dc=bramble,dc=local';
  const dir = path.join(lab.dir, `slapd-${++slapdCounter}`);
  mkdirSync(path.join(dir, 'db'), { recursive: true, mode: 0o700 });
  const conf = path.join(dir, 'slapd.conf');
  const ldifFile = path.join(dir, 'data.ldif');
  writeFileSync(conf, slapdConfig(dir, suffix, options.tls, options.indexes));
  writeFileSync(ldifFile, options.ldif, { mode: 0o600 });
  const offline = async (tool: string, args: string[]): Promise<void> => {
    try {
      await execFileP(tool, args, { timeout: 30_000, encoding: 'utf8' });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      const e = error as { stderr?: string; message: string };
      throw new Error(`${path.basename(tool)} failed: ${(e.stderr ?? e.message).trim().slice(-2000)}`);
    }
  };
  await offline('/usr/sbin/slaptest', ['-f', conf, '-u']);
  await offline('/usr/sbin/slapadd', ['-f', conf, '-l', ldifFile]);

  const ip = options.ip ?? lab.serverIp;
  const uri = `ldap://${ip}:389/`;
  const ldapsUri = options.tls ? `ldaps://${ip}:636/` : null;
  const { child, log } = lab.spawnOnServer('/usr/sbin/slapd', [
    '-d',
    options.logLevel ?? 'stats',
    '-f',
    conf,
    '-h',
    [uri, ldapsUri].filter(Boolean).join(' '),
  ]);
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const stop = async (): Promise<void> => {
    if (running()) {
      child.kill('SIGTERM');
      await waitForExit(child, 3000);
      if (running()) {
        child.kill('SIGKILL');
        await waitForExit(child, 3000);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const timeoutMs = options.startTimeoutMs ?? 10_000;
    await lab.waitForLdap(uri, { timeoutMs, alive: running });
    if (ldapsUri) await lab.waitForLdap(ldapsUri, { caFile: options.tls?.caFile, timeoutMs, alive: running });
  } catch (error) {
    await stop();
    throw new Error(`slapd did not start: ${(error as Error).message}; slapd said: ${log().trim().slice(-2000)}`);
  }
  return { pid: child.pid ?? -1, suffix, uri, ldapsUri, caFile: options.tls?.caFile ?? null, dir, log, stop };
}
