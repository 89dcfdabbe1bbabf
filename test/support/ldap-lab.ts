/**
 * The LDAP lab: a server host and a client host (a "Pi") in network namespaces on one switch, and
 * the real clients a Pi uses run from the client: `ldapsearch`/`ldapwhoami` (ldap-utils), and the
 * Pi's login stack — nslcd with the NSS module (`getent`, `id`) and pam_ldap (`pamtester`).
 *
 * The server under test is not part of the lab: anything that listens on `serverIp` inside the
 * server namespace (ports 389/636) will do. test/support/slapd.ts starts OpenLDAP's slapd there,
 * the reference the lab is proven against; bramble's LDAP plugin is served the same way, its
 * sockets created in the server namespace (`lab.netlab.inNamespace(lab.serverHost, ...)`). Mind
 * that `net.Server.listen(port, host)` looks the host up first and creates its socket later, outside
 * the namespace (EADDRNOTAVAIL); `listen(port)` without a host creates it at once, inside (checked).
 *
 *   const lab = await createLdapLab();
 *   const ca = await makeThrowawayCa(lab.dir, { serverIp: lab.serverIp });
 *   const slapd = await startSlapd(lab, { ldif, tls: ca });
 *   await lab.ldapsearch(['-LLL', '-b', base, '(uid=alice)'], { caFile: ca.caFile, startTls: true });
 *   const pi = await lab.startPiStack({ uri: slapd.uri, baseDn: base, caFile: ca.caFile });
 *   await pi.getent('passwd', 'alice');
 *
 * Why the Pi stack looks like this (docs/test-lab.md "LDAP clients"): nslcd, getent, id and
 * PAM read fixed paths (/etc/nslcd.conf, /etc/nsswitch.conf, /etc/pam.d, /run/nslcd/socket). They
 * run in a private mount namespace (`unshare -m --propagation private` inside the client's network
 * namespace) where the lab's own files are bind-mounted over those paths and a tmpfs covers /run,
 * so the host's files, its name service and any nscd socket are neither used nor touched. nslcd runs
 * in the foreground as that namespace's first process; every lookup enters its mount and network
 * namespaces with `nsenter -t <nslcd pid> -m -n`. The NSS and PAM modules are not installed on the
 * host (installing them rewrites nsswitch.conf and the PAM stack): scripts/ensure-test-deps.sh
 * unpacks them into LDAP_MODULES_DIR; the NSS module is found through LD_LIBRARY_PATH (glibc's
 * dlopen honours it for processes that are not setuid), pam_ldap.so is named by full path in the
 * lab's pam.d file. nslcd itself caches nothing but member-DN-to-uid lookups, so every `getent`
 * reaches the server.
 *
 * Cleanup: every process the lab starts carries OWNER_ENV=<pid of this test process> in its
 * environment; close() kills them and removes the namespaces and the temp folder, and the next lab
 * kills what a run killed before its teardown left behind (its owner gone), as netlab.ts does for
 * namespaces. Passwords go to clients through stdin or a 0600 file (`-y`), never in argv or logs;
 * nslcd's own debug output masks them (`"***"`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { canUseNetns, NetLab, pidAlive, waitForExit } from './netlab';
import { removeStaleTempDirs, tempDir } from './temp';

const execFileP = promisify(execFile);

/** Where scripts/ensure-test-deps.sh unpacks libnss-ldapd and libpam-ldapd (at nslcd's version). */
export const LDAP_MODULES_DIR = '/var/cache/bramble-test/nss-pam-ldapd';
export const NSS_LDAP_DIR = path.join(LDAP_MODULES_DIR, 'nss');
export const PAM_LDAP_MODULE = path.join(LDAP_MODULES_DIR, 'pam', 'pam_ldap.so');
/** The pam.d service the Pi stack defines: pam_ldap alone, for auth and account. */
export const PAM_SERVICE = 'bramble-lab';

/** Marks every process a lab starts: the pid of the test process that owns it. */
const OWNER_ENV = 'BRAMBLE_LDAP_LAB_OWNER';
const LAB_DIR_PREFIX = 'bramble-ldap-lab-';
/** A fixed PATH, so that nothing depends on the caller's shell. */
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_TIMEOUT_MS = 15_000;
/** What is kept of a command's (or daemon's) output: enough to explain a failure. */
const MAX_OUTPUT = 1024 * 1024;

export interface CommandResult {
  /** Exit code, or null when a signal ended the process (`signal` says which). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to the lab's minimal environment (PATH, HOME, LC_ALL, the owner mark). */
  env?: Record<string, string>;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  /** Default 15 s; past it the command is killed and the call throws. */
  timeoutMs?: number;
}

/** Why the LDAP lab cannot run here (not root, a tool or module missing), or null. */
export function ldapLabUnavailable(): string | null {
  const netns = canUseNetns();
  if (netns) return netns;
  const tools = ['ldapsearch', 'ldapwhoami', 'nslcd', 'pamtester', 'unshare', 'nsenter', 'getent', 'id', 'openssl'];
  const missing = tools.filter((tool) => !PATH.split(':').some((dir) => existsSync(path.join(dir, tool))));
  if (missing.length) return `missing ${missing.join(', ')} (scripts/ensure-test-deps.sh installs them)`;
  for (const file of [path.join(NSS_LDAP_DIR, 'libnss_ldap.so.2'), PAM_LDAP_MODULE]) {
    if (!existsSync(file)) return `${file} is missing (scripts/ensure-test-deps.sh unpacks it)`;
  }
  // The bind mount needs a file to cover; the nslcd package installs it (the lab never reads it).
  if (!existsSync('/etc/nslcd.conf')) return '/etc/nslcd.conf is missing (reinstall nslcd)';
  return null;
}

/** Kills processes started by labs whose test process is gone (a run killed before its teardown). */
export function removeStaleLabProcesses(): number {
  let killed = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue; // gone, or a kernel thread
    }
    const mark = environ.split('\0').find((v) => v.startsWith(`${OWNER_ENV}=`));
    if (!mark) continue;
    const owner = Number(mark.slice(OWNER_ENV.length + 1));
    if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || pidAlive(owner)) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
      killed++;
    } catch {
      // already gone
    }
  }
  return killed;
}

function labEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH, HOME: home, LC_ALL: 'C', [OWNER_ENV]: String(process.pid), ...extra };
}

/** Keeps the last `max` characters of a stream (a daemon's log), so a chatty daemon never blocks or grows memory. */
class OutputTail {
  private text = '';
  constructor(private readonly max = MAX_OUTPUT) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > this.max) this.text = this.text.slice(this.text.length - this.max);
  }
  toString(): string {
    return this.text;
  }
}

/** Runs `argv` to its end (bounded by `timeoutMs`) and returns its exit status and output. */
export function runCommand(argv: string[], options: RunOptions & { cwd: string }): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: options.cwd, env: labEnv(options.cwd, options.env), stdio: 'pipe' });
    const stdout = new OutputTail();
    const stderr = new OutputTail();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    // A command that exits without reading its stdin must not fail the call with EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`${argv.join(' ')} timed out after ${timeoutMs} ms; stderr: ${stderr.toString().slice(-2000)}`));
        return;
      }
      resolve({ code, signal, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}

/** A throwaway certificate authority and a server certificate it signed (for `serverIp`). */
export interface TestCa {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/**
 * Makes a CA and a server certificate with the openssl CLI in `<dir>/<name>/`: EC P-256, valid for
 * two days, the server's subjectAltName the IP address clients connect to (they check it).
 */
export async function makeThrowawayCa(dir: string, options: { serverIp: string; name?: string }): Promise<TestCa> {
  const name = options.name ?? 'test-ca';
  const out = path.join(dir, name);
  mkdirSync(out, { recursive: true, mode: 0o700 });
  const f = (file: string): string => path.join(out, file);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (args: string[]): Promise<unknown> => execFileP('openssl', args, { timeout: 15_000, cwd: out });
  const days = ['-days', '2'];
  const caExtensions = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await openssl(['req', '-x509', ...ec, ...days, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', `/CN=${name}`, ...caExtensions]);
  await openssl(['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', `/CN=${options.serverIp}`]);
  writeFileSync(
    f('server.ext'),
    [
      `subjectAltName=IP:${options.serverIp}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyAgreement',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  const signer = ['-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`];
  await openssl(['x509', '-req', '-in', f('server.csr'), ...signer, ...days, '-out', f('server.crt'), '-extfile', f('server.ext')]);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

/** How ldapsearch/ldapwhoami reach the server. */
export interface LdapToolOptions {
  /** `-H`; default `ldap://<serverIp>/`. */
  uri?: string;
  /** `-ZZ`: StartTLS, and fail when it fails. */
  startTls?: boolean;
  /** The CA the client trusts (LDAPTLS_CACERT); the certificate is always demanded (LDAPTLS_REQCERT=demand). */
  caFile?: string;
  /** A simple bind as `dn`; the password reaches the tool through a 0600 file (`-y`), not argv. */
  bind?: { dn: string; password: string };
  timeoutMs?: number;
}

export interface PiStackOptions {
  /** nslcd's `uri`: `ldap://<ip>/` (with StartTLS when `caFile` is set) or `ldaps://<ip>/`. */
  uri: string;
  baseDn: string;
  /** The CA the Pi trusts (`tls_cacertfile`, `tls_reqcert demand`); null: no TLS at all. */
  caFile: string | null;
  /** More nslcd.conf lines (e.g. `reconnect_retrytime 1`, `pam_authz_search ...`). */
  extraConfig?: string[];
  /** How long to wait for nslcd's socket; default 5 s. */
  startTimeoutMs?: number;
}

/** A Pi's login stack: nslcd running, and the commands that use it. */
export interface PiStack {
  /** nslcd's pid (the mount namespace's first process). */
  readonly pid: number;
  /** The nslcd.conf it runs with. */
  readonly configFile: string;
  /** `getent <database> <keys...>` (exit 0: found; 2: not found). */
  getent(database: 'passwd' | 'group' | 'shadow', ...keys: string[]): Promise<CommandResult>;
  /** `id <name>`. */
  id(name: string): Promise<CommandResult>;
  /** `pamtester bramble-lab <user> <operations...>` (default `authenticate`), the password on stdin. */
  pam(user: string, password: string, options?: { operations?: string[]; timeoutMs?: number }): Promise<CommandResult>;
  /** Any command inside the stack's mount and network namespaces, with the NSS module on LD_LIBRARY_PATH. */
  exec(cmd: string, args: string[], options?: RunOptions): Promise<CommandResult>;
  /** nslcd's debug output so far (the filters it sent, its errors; passwords masked by nslcd). */
  log(): string;
  /** Stops nslcd (its namespace and mounts go with it) and removes the stack's files. */
  stop(): Promise<void>;
}

export interface LdapLab {
  readonly netlab: NetLab;
  /** NetLab host names of the server and the client (for `netlab.inNamespace`, `netlab.ns`). */
  readonly serverHost: string;
  readonly clientHost: string;
  readonly serverIp: string;
  readonly clientIp: string;
  /** The lab's temp folder (0700), removed by close(). */
  readonly dir: string;
  runOnServer(cmd: string, args: string[], options?: RunOptions): Promise<CommandResult>;
  runOnClient(cmd: string, args: string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts a long-running process in the server's namespace (a reference server). The lab kills
   * it at close() if it still runs; its output is kept (bounded) in the returned `log()`.
   */
  spawnOnServer(cmd: string, args: string[], options?: { env?: Record<string, string> }): { child: ChildProcess; log(): string };
  /** `ldapsearch -x -H <uri> [-ZZ] [-D dn -y file] <args>` from the client. */
  ldapsearch(args: string[], options?: LdapToolOptions): Promise<CommandResult>;
  /** `ldapwhoami -x -H <uri> [-ZZ] [-D dn -y file] <args>` from the client. */
  ldapwhoami(options?: LdapToolOptions, args?: string[]): Promise<CommandResult>;
  /**
   * Waits until a server answers a rootDSE search at `uri` from the client (bounded: every 50 ms
   * up to `timeoutMs`, default 10 s); `alive` is asked before each try, so that a server that died
   * fails the wait at once.
   */
  waitForLdap(uri: string, options?: { caFile?: string; timeoutMs?: number; alive?: () => boolean }): Promise<void>;
  startPiStack(options: PiStackOptions): Promise<PiStack>;
  /** Kills everything the lab started, removes its namespaces and its temp folder. */
  close(): Promise<void>;
}

async function stopChild(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await waitForExit(child, graceMs);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await waitForExit(child, graceMs);
  }
}

/** Makes the lab: a switch, the server (`.1`) and a Pi (`.10`, a Raspberry Pi MAC). */
export async function createLdapLab(): Promise<LdapLab> {
  removeStaleLabProcesses();
  removeStaleTempDirs(LAB_DIR_PREFIX);
  const netlab = await NetLab.create();
  const tmp = tempDir(`${LAB_DIR_PREFIX}${process.pid}-`);
  const children = new Set<ChildProcess>();
  const stacks = new Set<PiStack>();
  let fileCounter = 0;
  let closed = false;
  const serverHost = 'srv';
  const clientHost = 'pi';
  const serverIp = netlab.ip(1);
  const clientIp = netlab.ip(10);

  try {
    await netlab.addSwitch('lan');
    await netlab.addHost(serverHost, 'lan', { ifname: 'eth0', mac: '02:00:00:00:01:01', cidr: `${serverIp}/24` });
    await netlab.addHost(clientHost, 'lan', { ifname: 'eth0', mac: 'b8:27:eb:12:34:56', cidr: `${clientIp}/24` });
  } catch (error) {
    await netlab.destroy();
    tmp.cleanup();
    throw error;
  }

  const inNs = (host: string, cmd: string, args: string[]): string[] => ['ip', 'netns', 'exec', netlab.ns(host), cmd, ...args];
  const run = (argv: string[], options: RunOptions = {}): Promise<CommandResult> => runCommand(argv, { ...options, cwd: tmp.dir });

  const track = (child: ChildProcess): { child: ChildProcess; log(): string } => {
    const out = new OutputTail();
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => out.push(c));
    children.add(child);
    child.once('exit', () => children.delete(child));
    // A failed spawn is reported through exit/exitCode; without a listener it would throw.
    child.once('error', () => undefined);
    return { child, log: () => out.toString() };
  };

  /** Runs an LDAP client tool with the lab's TLS environment and, for a bind, a password file. */
  const ldapTool = async (tool: string, args: string[], o: LdapToolOptions = {}): Promise<CommandResult> => {
    const argv = ['-x', '-H', o.uri ?? `ldap://${serverIp}/`, '-o', 'nettimeout=5'];
    if (o.startTls) argv.push('-ZZ');
    let passwordFile: string | null = null;
    if (o.bind) {
      passwordFile = path.join(tmp.dir, `bind-${++fileCounter}.pw`);
      // -y uses the whole file as the password: no newline.
      writeFileSync(passwordFile, o.bind.password, { mode: 0o600 });
      argv.push('-D', o.bind.dn, '-y', passwordFile);
    }
    // What the lab relies on is set here (-H, and these variables override the host's
    // /etc/ldap/ldap.conf); no user's ldaprc is read (HOME and the working folder are the lab's).
    const env: Record<string, string> = { LDAPTLS_REQCERT: 'demand' };
    if (o.caFile) env.LDAPTLS_CACERT = o.caFile;
    try {
      return await run(inNs(clientHost, tool, [...argv, ...args]), { env, timeoutMs: o.timeoutMs });
    } finally {
      if (passwordFile) rmSync(passwordFile, { force: true });
    }
  };

  const lab: LdapLab = {
    netlab,
    serverHost,
    clientHost,
    serverIp,
    clientIp,
    dir: tmp.dir,
    runOnServer: (cmd, args, options) => run(inNs(serverHost, cmd, args), options),
    runOnClient: (cmd, args, options) => run(inNs(clientHost, cmd, args), options),
    spawnOnServer(cmd, args, options = {}) {
      const argv = inNs(serverHost, cmd, args);
      return track(spawn(argv[0], argv.slice(1), { cwd: tmp.dir, env: labEnv(tmp.dir, options.env), stdio: ['ignore', 'pipe', 'pipe'] }));
    },
    ldapsearch: (args, options) => ldapTool('ldapsearch', args, options),
    ldapwhoami: (options, args = []) => ldapTool('ldapwhoami', args, options),
    async waitForLdap(uri, options = {}) {
      const timeoutMs = options.timeoutMs ?? 10_000;
      const deadline = Date.now() + timeoutMs;
      let last: CommandResult | null = null;
      for (let attempt = 0; attempt < 1000; attempt++) {
        if (options.alive && !options.alive()) throw new Error(`the server at ${uri} exited while starting`);
        last = await ldapTool('ldapsearch', ['-LLL', '-s', 'base', '-b', '', '(objectClass=*)', '1.1'], {
          uri,
          caFile: options.caFile,
          timeoutMs: Math.max(1000, deadline - Date.now()),
        });
        if (last.code === 0) return;
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no LDAP server answered at ${uri} within ${timeoutMs} ms: ${last?.stderr.trim() ?? ''}`);
    },
    async startPiStack(options) {
      const stack = await startPiStack(options);
      stacks.add(stack);
      return stack;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const stack of [...stacks]) await stack.stop().catch(() => undefined);
      await Promise.all([...children].map((c) => stopChild(c)));
      await netlab.destroy();
      tmp.cleanup();
    },
  };

  async function startPiStack(options: PiStackOptions): Promise<PiStack> {
    const dir = path.join(tmp.dir, `pi-stack-${++fileCounter}`);
    mkdirSync(path.join(dir, 'pam.d'), { recursive: true });
    const tls =
      options.caFile === null
        ? []
        : [
            ...(options.uri.startsWith('ldaps:') ? ['ssl on'] : ['ssl start_tls']),
            'tls_reqcert demand',
            `tls_cacertfile ${options.caFile}`,
          ];
    const configFile = path.join(dir, 'nslcd.conf');
    // No uid/gid lines: nslcd stays root, so it can read the lab's 0700 folder (the CA file).
    writeFileSync(configFile, [`uri ${options.uri}`, `base ${options.baseDn}`, ...tls, ...(options.extraConfig ?? []), ''].join('\n'));
    // Only what a Pi looks up in LDAP, after the local files; hosts from files only (no DNS in the lab).
    writeFileSync(
      path.join(dir, 'nsswitch.conf'),
      ['passwd: files ldap', 'group: files ldap', 'shadow: files ldap', 'hosts: files', ''].join('\n'),
    );
    writeFileSync(
      path.join(dir, 'pam.d', PAM_SERVICE),
      [`auth required ${PAM_LDAP_MODULE}`, `account required ${PAM_LDAP_MODULE}`, ''].join('\n'),
    );
    // Anything else asking PAM in this namespace is refused.
    writeFileSync(path.join(dir, 'pam.d', 'other'), ['auth required pam_deny.so', 'account required pam_deny.so', ''].join('\n'));
    const script = [
      'set -e',
      'mount --bind "$1/nslcd.conf" /etc/nslcd.conf',
      'mount --bind "$1/nsswitch.conf" /etc/nsswitch.conf',
      'mount --bind "$1/pam.d" /etc/pam.d',
      'mount -t tmpfs -o mode=0755,size=16m bramble-lab-run /run',
      'mkdir -p /run/nslcd',
      'exec nslcd -d',
    ].join('\n');
    const argv = inNs(clientHost, 'unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', dir]);
    // nslcd loads the NSS module too (to stop it from asking nslcd itself, which would deadlock).
    const env = labEnv(tmp.dir, { LD_LIBRARY_PATH: NSS_LDAP_DIR });
    const { child, log } = track(spawn(argv[0], argv.slice(1), { cwd: tmp.dir, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const pid = child.pid ?? -1;
    const stop = async (): Promise<void> => {
      stacks.delete(stack);
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    };
    const exec = (cmd: string, args: string[], o: RunOptions = {}): Promise<CommandResult> => {
      // Not yet reaped, so the pid is still nslcd's: nsenter cannot land in another process's namespaces.
      if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.reject(new Error(`nslcd is not running (${child.exitCode ?? child.signalCode}): ${log().slice(-2000)}`));
      }
      return run(['nsenter', '-t', String(pid), '-m', '-n', '--', cmd, ...args], {
        ...o,
        env: { LD_LIBRARY_PATH: NSS_LDAP_DIR, ...o.env },
      });
    };
    const stack: PiStack = {
      pid,
      configFile,
      getent: (database, ...keys) => exec('getent', [database, ...keys]),
      id: (name) => exec('id', [name]),
      pam: (user, password, o = {}) =>
        exec('pamtester', [PAM_SERVICE, user, ...(o.operations ?? ['authenticate'])], { input: `${password}\n`, timeoutMs: o.timeoutMs }),
      exec,
      log,
      stop,
    };
    const timeoutMs = options.startTimeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const socket = `/proc/${pid}/root/run/nslcd/socket`;
    for (let attempt = 0; ; attempt++) {
      const exited = child.exitCode !== null || child.signalCode !== null || pid < 0;
      if (exited || Date.now() > deadline || attempt > timeoutMs / 10) {
        await stop();
        const why = exited ? `exited ${child.exitCode ?? child.signalCode}` : `no socket after ${timeoutMs} ms`;
        throw new Error(`nslcd did not start (${why}): ${log().slice(-2000)}`);
      }
      // Ready when the process is nslcd itself (the mounts are made before its exec) and its socket is there.
      if (processIs(pid, 'nslcd') && existsSync(socket)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    return stack;
  }

  return lab;
}

/** True when `pid` runs and its command name is `comm` (a daemon started by a lab). */
export function processIs(pid: number, comm: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
  } catch {
    return false;
  }
}
