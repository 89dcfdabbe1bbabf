/**
 * The LDAP benchmark's load generator (bench/ldap.bench.ts): one node process on the LDAP lab's
 * client host (run with runReportChild's `netns`, `nice`d), speaking LDAP over node:net/node:tls
 * with bramble's own codec (encodeRequest, decodeResponse, messageLength), N connections at once,
 * each from its own source address (one simulated Pi per address). It runs against whichever
 * server it is pointed at (bramble's plugin or slapd) in exactly the same way, and checks every
 * answer, so a fast wrong answer is counted as a failure, not as throughput.
 *
 * Why not ldapsearch or nslcd itself: one process per request (ldapsearch) costs milliseconds of
 * CPU each on this 2-core machine, far more than the server's work, and nslcd serialises on its
 * few connections; a single event loop keeps the client's share of the CPU small and measurable
 * (the report carries its own CPU time).
 *
 * What is sent is what nslcd 0.9.12 (Debian 12, the Pi OS's) sends, as captured from slapd's stats
 * log with the lab's real nslcd (getent passwd, id, pamtester):
 * - a connection: StartTLS (the server's certificate checked against `caFile`, its IP SAN), then an
 *   anonymous simple bind (nslcd's `ldap_simple_bind_s(NULL,NULL)`);
 * - the user lookup: base = the base DN, scope sub, deref never, no limits,
 *   `(&(objectClass=posixAccount)(uid=NAME))`, attributes USER_ATTRIBUTES;
 * - the group lookup at login: `(&(objectClass=posixGroup)(|(memberUid=NAME)(member=<user DN>)))`,
 *   attributes GROUP_ATTRIBUTES;
 * - a password check: a simple bind as `uid=NAME,ou=people,<base>` with the password-policy request
 *   control (not critical, no value), as nslcd's PAM bind.
 * The list for the user lookup (uid userPassword uidNumber gidNumber cn homeDirectory
 * loginShell gecos description objectClass) is an older nslcd's; Debian's asks the 8 below.
 *
 * Modes (LoadOptions.mode):
 * - `search`: `connections` long-lived connections, each set up as above before the clock starts,
 *   each with one search outstanding at a time (as nslcd: it waits for an answer), for
 *   `warmupMs` (not counted) and then `durationMs` (counted); users picked at random from `users`.
 * - `login`: `connections` logins started together, each on a new connection: connect, StartTLS,
 *   bind as user `users[i]` with its password, user lookup, group lookup, unbind. Latency runs from
 *   just before connect to the group lookup's searchDone.
 *
 * Passwords are never passed on a command line or logged: each is derived from a per-run secret
 * (env LOAD_SECRET_ENV, which only root can read in /proc) by benchPassword(), on both sides.
 *
 * Bounds: every request has a timer (`requestTimeoutMs`); the search loop ends at its deadline or
 * after MAX_SEARCHES_PER_CONNECTION; the whole run ends at `deadline` (epoch ms) whatever happens;
 * the parent kills the process after its own timeout.
 *
 * Usage: BRAMBLE_LDAP_LOAD='<json LoadOptions>' BRAMBLE_LDAP_LOAD_SECRET=<secret> node ldap-load.js
 * prints one JSON line (SearchReport or LoginReport) on stdout.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as tls from 'node:tls';
import { decodeResponse, encodeRequest, messageLength } from '../../src/plugins/ldap/ldap.codec';
import {
  ControlOid,
  ExtendedOid,
  type Filter,
  type LdapRequest,
  type LdapResponse,
  type LdapResult,
} from '../../src/plugins/ldap/ldap.types';
import { searchRequest } from '../../test/support/ldap-test-client';
import { Rng } from '../../test/support/rng';

export const LOAD_OPTIONS_ENV = 'BRAMBLE_LDAP_LOAD';
export const LOAD_SECRET_ENV = 'BRAMBLE_LDAP_LOAD_SECRET';

/** nslcd 0.9.12's attributes for a passwd lookup (getent passwd, the login's user lookup). */
export const USER_ATTRIBUTES = ['uidNumber', 'cn', 'gecos', 'uid', 'objectClass', 'homeDirectory', 'gidNumber', 'loginShell'];
/** nslcd 0.9.12's attributes for a user's groups (initgroups at login). */
export const GROUP_ATTRIBUTES = ['cn', 'gidNumber'];

/** Searches per connection at most in one search run (a bound on the loop besides its deadline). */
const MAX_SEARCHES_PER_CONNECTION = 10_000_000;
/** Failure messages kept in a report (the count is always complete). */
const MAX_FAILURES_KEPT = 20;
/** Responses larger than this are refused (the entries here are well under 1 KiB). */
const MAX_RESPONSE_BYTES = 256 * 1024;

export interface LoadOptions {
  mode: 'search' | 'login';
  serverIp: string;
  port: number;
  /** The CA the server's certificate must chain to (PEM file). */
  caFile: string;
  baseDn: string;
  /** Source addresses (on the client host); connection i uses sourceIps[i % length]. */
  sourceIps: string[];
  connections: number;
  /** search: the names looked up (at random); login: one per connection, users[i] for connection i. */
  users: string[];
  warmupMs: number;
  durationMs: number;
  requestTimeoutMs: number;
  /** Epoch ms after which everything stops and the report is printed. */
  deadline: number;
  seed: number;
}

export interface TlsInfo {
  protocol: string | null;
  cipher: string | null;
}

export interface SearchReport {
  mode: 'search';
  connections: number;
  /** Checked answers completed inside the measured window. */
  searches: number;
  /** Checked answers from the first search to the last, warm-up and the searches that crossed the window's ends included. */
  allSearches: number;
  seconds: number;
  perSecond: number;
  /** Per-search latency inside the window (request written → searchDone), microseconds. */
  p50Us: number | null;
  p99Us: number | null;
  failed: number;
  failures: string[];
  /** User + system CPU of this process during the measured window. */
  cpuMs: number;
  tls: TlsInfo;
}

export interface LoginReport {
  mode: 'login';
  logins: number;
  ok: number;
  /** Latency of each successful login, ms, in connection order. */
  latenciesMs: number[];
  failed: number;
  failures: string[];
  /** From the first connect to the last answer. */
  wallMs: number;
  cpuMs: number;
  tls: TlsInfo;
}

/** The bench user's password: the same derivation when the users are made and when they log in. */
export function benchPassword(secret: string, username: string): string {
  return `Pw-${createHmac('sha256', secret).update(username).digest('base64url').slice(0, 20)}`;
}

export function userDn(username: string, baseDn: string): string {
  return `uid=${username},ou=people,${baseDn}`;
}

export function userFilter(username: string): Filter {
  return {
    type: 'and',
    filters: [
      { type: 'equality', attribute: 'objectClass', value: 'posixAccount' },
      { type: 'equality', attribute: 'uid', value: username },
    ],
  };
}

export function groupFilter(username: string, baseDn: string): Filter {
  return {
    type: 'and',
    filters: [
      { type: 'equality', attribute: 'objectClass', value: 'posixGroup' },
      {
        type: 'or',
        filters: [
          { type: 'equality', attribute: 'memberUid', value: username },
          { type: 'equality', attribute: 'member', value: userDn(username, baseDn) },
        ],
      },
    ],
  };
}

/** The p-th percentile (nearest rank) of ascending `sorted`, or null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

type Pending = {
  id: number;
  entries: Extract<LdapResponse, { op: 'searchEntry' }>[];
  resolve(done: { final: LdapResponse; entries: Extract<LdapResponse, { op: 'searchEntry' }>[] }): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
};

/**
 * One client connection: requests one at a time (the next is sent only after the previous one's
 * final answer), answers framed with messageLength and decoded with decodeResponse.
 */
export class LdapClientConnection {
  private socket: net.Socket;
  private input: Buffer = Buffer.alloc(0);
  private pending: Pending | null = null;
  private nextId = 1;
  private closedWith: Error | null = null;
  tlsInfo: TlsInfo = { protocol: null, cipher: null };

  private constructor(
    socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connects from `localAddress`; rejects after `timeoutMs`. */
  static open(o: { host: string; port: number; localAddress: string; timeoutMs: number }): Promise<LdapClientConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: o.host, port: o.port, localAddress: o.localAddress, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect timed out after ${o.timeoutMs} ms`));
      }, o.timeoutMs);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new LdapClientConnection(socket, o.timeoutMs));
      });
    });
  }

  private attach(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed by the server')));
  }

  private fail(error: Error): void {
    if (!this.closedWith) this.closedWith = error;
    const p = this.pending;
    if (p) {
      this.pending = null;
      clearTimeout(p.timer);
      p.reject(error);
    }
  }

  private onData(chunk: Buffer): void {
    this.input = this.input.length === 0 ? chunk : Buffer.concat([this.input, chunk]);
    let offset = 0;
    try {
      for (let n = 0; n < 100_000; n++) {
        const length = messageLength(this.input, offset, MAX_RESPONSE_BYTES);
        if (length === null) break;
        const response = decodeResponse(this.input.subarray(offset, offset + length));
        offset += length;
        this.dispatch(response);
      }
    } catch (error) {
      this.fail(error as Error);
      this.socket.destroy();
      return;
    }
    this.input = offset === this.input.length ? Buffer.alloc(0) : this.input.subarray(offset);
  }

  private dispatch(response: LdapResponse): void {
    const p = this.pending;
    if (!p || response.messageId !== p.id) {
      throw new Error(`unexpected ${response.op} for message ${response.messageId} (waiting for ${p?.id ?? 'nothing'})`);
    }
    if (response.op === 'searchEntry') {
      p.entries.push(response);
      return;
    }
    this.pending = null;
    clearTimeout(p.timer);
    p.resolve({ final: response, entries: p.entries });
  }

  /** Sends `request` (its messageId set here) and resolves with its final answer and any entries. */
  send(request: LdapRequest): Promise<{ final: LdapResponse; entries: Extract<LdapResponse, { op: 'searchEntry' }>[] }> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (this.pending) return Promise.reject(new Error('a request is already outstanding'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        reject(new Error(`no answer to ${request.op} within ${this.timeoutMs} ms`));
        this.socket.destroy();
      }, this.timeoutMs);
      this.pending = { id, entries: [], resolve, reject, timer };
      this.socket.write(encodeRequest({ ...request, messageId: id }));
    });
  }

  /** StartTLS, then a TLS handshake over the same socket; the certificate must chain to `ca` and name `host`. */
  async startTls(ca: Buffer, host: string): Promise<void> {
    const { final } = await this.send({ op: 'extended', messageId: 0, controls: [], oid: ExtendedOid.startTls, value: null });
    const result = resultOf(final);
    if (result.code !== 0) throw new Error(`StartTLS refused: ${result.code} ${result.message}`);
    const raw = this.socket;
    raw.removeAllListeners('data');
    raw.removeAllListeners('error');
    raw.removeAllListeners('close');
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: raw, ca, host, rejectUnauthorized: true });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`TLS handshake timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      s.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      s.once('secureConnect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
    });
    this.socket = secure;
    this.tlsInfo = { protocol: secure.getProtocol(), cipher: secure.getCipher()?.name ?? null };
    this.attach(secure);
  }

  async bind(name: string, password: string, controls: LdapRequest['controls'] = []): Promise<LdapResult> {
    const { final } = await this.send({
      op: 'bind',
      messageId: 0,
      controls,
      version: 3,
      name,
      auth: { type: 'simple', password: Buffer.from(password, 'utf8') },
    });
    return resultOf(final);
  }

  async search(
    baseDn: string,
    filter: Filter,
    attributes: string[],
  ): Promise<{ result: LdapResult; entries: Extract<LdapResponse, { op: 'searchEntry' }>[] }> {
    const { final, entries } = await this.send(searchRequest({ baseObject: baseDn, scope: 'sub', filter, attributes }));
    return { result: resultOf(final), entries };
  }

  /** Unbind (no answer), then close our side. */
  unbind(): void {
    if (this.closedWith) return;
    this.closedWith = new Error('unbound');
    this.socket.end(encodeRequest({ op: 'unbind', messageId: this.nextId++, controls: [] }));
  }

  destroy(): void {
    if (!this.closedWith) this.closedWith = new Error('destroyed');
    this.socket.destroy();
  }
}

function resultOf(response: LdapResponse): LdapResult {
  if (response.op === 'searchEntry') throw new Error('an entry where a result was expected');
  return response.result;
}

/** The values of attribute `name` (any case) in an entry. */
function valuesOf(entry: Extract<LdapResponse, { op: 'searchEntry' }>, name: string): string[] {
  const lower = name.toLowerCase();
  return entry.attributes.filter((a) => a.type.toLowerCase() === lower).flatMap((a) => a.values.map((v) => v.toString()));
}

/**
 * Checks a user lookup's answer: exactly one entry, the user's DN, its uid, a uidNumber and a
 * gidNumber, every attribute asked for that a user has, and never a password. Returns what is
 * wrong, or null.
 */
export function checkUserAnswer(
  username: string,
  baseDn: string,
  answer: { result: LdapResult; entries: Extract<LdapResponse, { op: 'searchEntry' }>[] },
): string | null {
  if (answer.result.code !== 0) return `user search result ${answer.result.code} ${answer.result.message}`;
  if (answer.entries.length !== 1) return `user search gave ${answer.entries.length} entries for ${username}`;
  const entry = answer.entries[0];
  if (entry.dn.toLowerCase() !== userDn(username, baseDn).toLowerCase()) return `user search gave ${entry.dn} for ${username}`;
  if (valuesOf(entry, 'uid')[0] !== username) return `user entry of ${username} has uid ${valuesOf(entry, 'uid').join(',')}`;
  for (const name of USER_ATTRIBUTES) {
    if (valuesOf(entry, name).length === 0) return `user entry of ${username} lacks ${name}`;
  }
  if (!/^\d+$/.test(valuesOf(entry, 'uidNumber')[0])) return `user entry of ${username}: uidNumber not a number`;
  if (valuesOf(entry, 'userPassword').length > 0) return `user entry of ${username} carries userPassword`;
  return null;
}

/** Checks a group lookup's answer: success, at least one posixGroup entry with a cn and a gidNumber. */
export function checkGroupAnswer(
  username: string,
  answer: { result: LdapResult; entries: Extract<LdapResponse, { op: 'searchEntry' }>[] },
): string | null {
  if (answer.result.code !== 0) return `group search result ${answer.result.code} ${answer.result.message}`;
  if (answer.entries.length === 0) return `no groups for ${username}`;
  for (const e of answer.entries) {
    if (valuesOf(e, 'cn').length === 0 || valuesOf(e, 'gidNumber').length === 0) return `group ${e.dn} lacks cn or gidNumber`;
  }
  return null;
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
}

class Failures {
  count = 0;
  readonly kept: string[] = [];
  add(what: string): void {
    this.count++;
    if (this.kept.length < MAX_FAILURES_KEPT) this.kept.push(what);
  }
}

/** A connection as nslcd opens one: connect, StartTLS, anonymous bind. */
async function openNslcdConnection(o: LoadOptions, ca: Buffer, index: number): Promise<LdapClientConnection> {
  const c = await LdapClientConnection.open({
    host: o.serverIp,
    port: o.port,
    localAddress: o.sourceIps[index % o.sourceIps.length],
    timeoutMs: o.requestTimeoutMs,
  });
  try {
    await c.startTls(ca, o.serverIp);
    const bound = await c.bind('', '');
    if (bound.code !== 0) throw new Error(`anonymous bind refused: ${bound.code} ${bound.message}`);
    return c;
  } catch (error) {
    c.destroy();
    throw error;
  }
}

async function runSearch(o: LoadOptions, ca: Buffer): Promise<SearchReport> {
  const failures = new Failures();
  const connections = await Promise.all(Array.from({ length: o.connections }, (_, i) => openNslcdConnection(o, ca, i)));
  const rng = new Rng(o.seed);
  const warmEnd = performance.now() + o.warmupMs;
  const end = Math.min(warmEnd + o.durationMs, performance.now() + Math.max(0, o.deadline - Date.now()));
  let cpu0 = process.cpuUsage();
  let cpuReset = false;
  let searches = 0;
  let allSearches = 0;
  const latencies: number[] = [];
  const loop = async (c: LdapClientConnection): Promise<void> => {
    for (let n = 0; n < MAX_SEARCHES_PER_CONNECTION; n++) {
      const started = performance.now();
      if (started >= end) return;
      if (!cpuReset && started >= warmEnd) {
        cpuReset = true;
        cpu0 = process.cpuUsage();
      }
      const username = o.users[rng.int(o.users.length)];
      let problem: string | null;
      try {
        problem = checkUserAnswer(username, o.baseDn, await c.search(o.baseDn, userFilter(username), USER_ATTRIBUTES));
      } catch (error) {
        failures.add((error as Error).message);
        return; // the connection is gone or stuck: this one stops
      }
      const done = performance.now();
      if (!problem) allSearches++;
      if (started < warmEnd || done > end) continue;
      if (problem) failures.add(problem);
      else {
        searches++;
        latencies.push((done - started) * 1000);
      }
    }
  };
  await Promise.all(connections.map(loop));
  const cpuMs = cpuMsSince(cpu0);
  const tlsInfo = connections[0]?.tlsInfo ?? { protocol: null, cipher: null };
  for (const c of connections) c.unbind();
  const seconds = Math.max(0, end - warmEnd) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    mode: 'search',
    connections: connections.length,
    searches,
    allSearches,
    seconds,
    perSecond: seconds > 0 ? searches / seconds : 0,
    p50Us: percentile(latencies, 50),
    p99Us: percentile(latencies, 99),
    failed: failures.count,
    failures: failures.kept,
    cpuMs,
    tls: tlsInfo,
  };
}

async function runLogin(o: LoadOptions, ca: Buffer, secret: string): Promise<LoginReport> {
  if (o.users.length < o.connections) throw new Error(`login: ${o.connections} connections but ${o.users.length} users`);
  const failures = new Failures();
  const latencies: (number | null)[] = new Array<number | null>(o.connections).fill(null);
  let tlsInfo: TlsInfo = { protocol: null, cipher: null };
  const cpu0 = process.cpuUsage();
  const first = performance.now();
  let last = first;
  const login = async (i: number): Promise<void> => {
    const username = o.users[i];
    const started = performance.now();
    let c: LdapClientConnection | null = null;
    try {
      c = await LdapClientConnection.open({
        host: o.serverIp,
        port: o.port,
        localAddress: o.sourceIps[i % o.sourceIps.length],
        timeoutMs: o.requestTimeoutMs,
      });
      await c.startTls(ca, o.serverIp);
      tlsInfo = c.tlsInfo;
      const bound = await c.bind(userDn(username, o.baseDn), benchPassword(secret, username), [
        { oid: ControlOid.passwordPolicy, critical: false, value: null },
      ]);
      if (bound.code !== 0) throw new Error(`bind as ${username}: ${bound.code} ${bound.message}`);
      const userProblem = checkUserAnswer(username, o.baseDn, await c.search(o.baseDn, userFilter(username), USER_ATTRIBUTES));
      if (userProblem) throw new Error(userProblem);
      const groupProblem = checkGroupAnswer(username, await c.search(o.baseDn, groupFilter(username, o.baseDn), GROUP_ATTRIBUTES));
      if (groupProblem) throw new Error(groupProblem);
      const done = performance.now();
      latencies[i] = done - started;
      last = Math.max(last, done);
      c.unbind();
    } catch (error) {
      failures.add((error as Error).message);
      c?.destroy();
    }
  };
  // All start in the same turn of the loop: 30 Pis logging in at once.
  await Promise.all(Array.from({ length: o.connections }, (_, i) => login(i)));
  const ok = latencies.filter((x): x is number => x !== null);
  return {
    mode: 'login',
    logins: o.connections,
    ok: ok.length,
    latenciesMs: ok,
    failed: failures.count,
    failures: failures.kept,
    wallMs: last - first,
    cpuMs: cpuMsSince(cpu0),
    tls: tlsInfo,
  };
}

async function main(): Promise<void> {
  const o = JSON.parse(process.env[LOAD_OPTIONS_ENV] ?? '') as LoadOptions;
  const secret = process.env[LOAD_SECRET_ENV] ?? '';
  if (o.mode === 'login' && secret === '') throw new Error(`${LOAD_SECRET_ENV} is not set`);
  const ca = readFileSync(o.caFile);
  // Whatever happens, the process ends by its deadline with what it has.
  const stop = setTimeout(
    () => {
      process.stderr.write(`ldap-load: deadline passed, exiting\n`);
      process.exit(2);
    },
    Math.max(1000, o.deadline - Date.now() + 2000),
  );
  stop.unref();
  const report = o.mode === 'search' ? await runSearch(o, ca) : await runLogin(o, ca, secret);
  process.stdout.write(`${JSON.stringify(report)}\n`);
  // Unbinds are on their way; sockets still open must not keep the process alive.
  setTimeout(() => process.exit(0), 200).unref();
}

if (process.env[LOAD_OPTIONS_ENV]) {
  main().catch((error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exitCode = 1;
  });
}
