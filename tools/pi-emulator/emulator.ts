/**
 * `bootPis(options)`: boots emulated Raspberry Pis from this process, each on its own network
 * interface with its own MAC (a veth or macvlan the caller made, in a namespace the caller made),
 * and resolves with each Pi's outcome and timeline. The boot rules are in boot.machine.ts (pure);
 * this file only carries out its effects:
 *
 * - DHCP: a UDP socket on 0.0.0.0:68 bound with SO_BINDTODEVICE to the Pi's interface
 *   (src/plugins/dhcp/bound-udp-socket.ts), so many Pis share one namespace without hearing each
 *   other's replies.
 * - The lease: the address is put on the interface, with a routing rule of its own (`ip rule from
 *   <address> lookup <table>`): Pis on the same subnet in one namespace then each leave through
 *   their own interface, and `arp_ignore=1`/`arp_announce=2` make each answer ARP only for itself.
 * - TFTP: tftp-client.ts on a socket bound to the Pi's address and interface.
 * - The NFS root: `nfs-ls` and `nfs-cat` (libnfs-utils) with `if=<interface>`.
 * - The login: `ldapwhoami` (StartTLS, a simple bind as the user) then `ldapsearch` for nslcd's
 *   passwd and group lookups, from the Pi's address (`LDAPSOCKET_BIND_ADDRESSES`), trusting the
 *   CA the image's nslcd.conf names (`LDAPTLS_CACERT`).
 * - The report: `curl --interface <interface> -X POST http://<server>:<port>/booted`, retried for
 *   `reportRetryMs` like bramble's unit.
 * Subprocesses run through `ip netns exec <ns>` when the Pi is in another namespace.
 * Every wait is bounded: `deadlineMs` ends the whole run (the Pis still going end 'timeout').
 */
import { execFile } from 'node:child_process';
import type { Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { adoptUdpFd, createBoundUdpFd } from '../../src/plugins/dhcp/bound-udp-socket';
import { decodePacket, encodePacket } from '../../src/plugins/dhcp/dhcp.codec';
import {
  NSLCD_CONF,
  PiBootMachine,
  type Effect,
  type NfsOutcome,
  type FileRecord,
  type LdapLoginRequest,
  type PiConfig,
  type Stage,
} from './boot.machine';
import { inNetns } from './netns';
import { TftpClient } from './tftp-client';

export interface EmulatedPi extends PiConfig {
  /** The Pi's interface (its MAC must already be `mac`). */
  interface: string;
  /** Its network namespace (default: options.netns, else this process's). */
  netns?: string | null;
  /** A name for timelines (default the MAC). */
  name?: string;
}

export interface BootPisOptions {
  pis: EmulatedPi[];
  /** Namespace of every Pi that names none. */
  netns?: string | null;
  /** Whole run bound (default 300 s). */
  deadlineMs?: number;
  /** How long the BOOTED report is retried (default 60 s, as bramble's unit). */
  reportRetryMs?: number;
  /** First routing table number of the per-Pi rules (default 20000). */
  routingTableBase?: number;
  /** Called on every timeline entry, as it happens (live output). */
  onTimeline?: (pi: EmulatedPi, entry: TimelineEntry) => void;
}

export interface TimelineEntry {
  /** Milliseconds since bootPis started. */
  t: number;
  stage: Stage;
  event: string;
  file?: string;
  detail?: string;
}

export interface PiResult {
  name: string;
  mac: string;
  model: PiConfig['model'];
  outcome: 'booted' | 'failed' | 'timeout';
  /** The highest stage reached. */
  stage: Stage | null;
  cause: string | null;
  ip: string | null;
  attempts: number;
  /** From power-on to the outcome. */
  ms: number;
  files: FileRecord[];
  timeline: TimelineEntry[];
}

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

function run(
  netns: string | null | undefined,
  cmd: string,
  args: string[],
  o: { timeoutMs: number; env?: Record<string, string> },
): Promise<Exec> {
  const argv = netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];
  return new Promise((resolve) => {
    execFile(
      argv[0] as string,
      argv[1] as string[],
      { timeout: o.timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8', env: { ...process.env, ...o.env } },
      (error, stdout, stderr) => {
        const code = error
          ? typeof (error as { code?: unknown }).code === 'number'
            ? ((error as { code: number }).code as number)
            : -1
          : 0;
        resolve({ code, stdout, stderr: stderr || (error && code === -1 ? String(error.message) : '') });
      },
    );
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const firstLine = (s: string): string => s.trim().split('\n')[0] ?? '';

/** One Pi: its machine, sockets and timers. */
class PiRunner {
  readonly machine: PiBootMachine;
  readonly timeline: TimelineEntry[] = [];
  private dhcp: Socket | null = null;
  private tftp: TftpClient | null = null;
  private timers = new Set<NodeJS.Timeout>();
  private result: PiResult | null = null;
  private startedAt = 0;
  private ruleAddress: string | null = null;
  private stopped = false;
  readonly finished: Promise<PiResult>;
  private resolveFinished!: (r: PiResult) => void;
  readonly netns: string | null;

  constructor(
    readonly pi: EmulatedPi,
    private readonly o: BootPisOptions,
    private readonly t0: number,
    private readonly table: number,
    private readonly tmp: string,
  ) {
    this.machine = new PiBootMachine(pi);
    this.netns = pi.netns ?? o.netns ?? null;
    this.finished = new Promise((r) => (this.resolveFinished = r));
  }

  async start(): Promise<void> {
    await this.unconfigure();
    const fd = inNetns(this.netns, () => createBoundUdpFd({ port: 68, interface: this.pi.interface }));
    this.dhcp = await adoptUdpFd(fd);
    this.dhcp.on('message', (msg) => {
      let packet;
      try {
        packet = decodePacket(msg);
      } catch {
        return; // not DHCP: the firmware ignores it too
      }
      this.apply(this.machine.handle({ kind: 'dhcp-reply', packet }, performance.now()));
    });
    this.startedAt = performance.now();
    this.apply(this.machine.handle({ kind: 'power-on' }, this.startedAt));
  }

  private apply(effects: Effect[]): void {
    for (const e of effects) {
      if (this.stopped) return;
      this.effect(e);
    }
  }

  private effect(e: Effect): void {
    switch (e.kind) {
      case 'dhcp-send':
        this.dhcp?.send(encodePacket(e.packet), 67, '255.255.255.255');
        return;
      case 'timer': {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          this.apply(this.machine.handle({ kind: 'timer', id: e.id }, performance.now()));
        }, e.ms);
        this.timers.add(timer);
        return;
      }
      case 'timeline': {
        const entry: TimelineEntry = { t: Math.round(performance.now() - this.t0), stage: e.stage, event: e.event };
        if (e.file) entry.file = e.file;
        if (e.detail) entry.detail = e.detail;
        this.timeline.push(entry);
        this.o.onTimeline?.(this.pi, entry);
        return;
      }
      case 'configure':
        void this.configure(e.ip, e.prefixLength).then(
          () => undefined,
          (error: Error) => this.abort(`configuring ${e.ip}: ${error.message}`),
        );
        return;
      case 'tftp':
        void this.tftpGet(e);
        return;
      case 'nfs':
        void this.nfs(e.server, e.path, e.version, e.read).then((outcome) =>
          this.apply(this.machine.handle({ kind: 'nfs-result', outcome }, performance.now())),
        );
        return;
      case 'ldap':
        void this.ldap(e.request).then(({ ok, detail }) =>
          this.apply(this.machine.handle({ kind: 'ldap-result', ok, detail }, performance.now())),
        );
        return;
      case 'report':
        void this.report(e.url, e.hostname).then(({ ok, detail }) =>
          this.apply(this.machine.handle({ kind: 'report-result', ok, detail }, performance.now())),
        );
        return;
      case 'finished':
        this.finish(e.outcome, e.cause);
        return;
    }
  }

  /** The TFTP socket is made once the address is on the interface; effects queue behind that. */
  private configured: Promise<void> = Promise.resolve();

  private configure(ip: string, prefixLength: number): Promise<void> {
    this.configured = (async () => {
      await this.unconfigure();
      const ipc = async (args: string[]): Promise<void> => {
        const r = await run(this.netns, 'ip', args, { timeoutMs: 10_000 });
        if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${firstLine(r.stderr)}`);
      };
      await ipc(['addr', 'add', `${ip}/${prefixLength}`, 'dev', this.pi.interface]);
      this.ruleAddress = ip;
      const net = networkOf(ip, prefixLength);
      await ipc(['route', 'replace', `${net}/${prefixLength}`, 'dev', this.pi.interface, 'src', ip, 'table', String(this.table)]);
      await ipc(['rule', 'add', 'from', ip, 'lookup', String(this.table), 'priority', String(1000)]);
      this.tftp?.close();
      const fd = inNetns(this.netns, () => createBoundUdpFd({ port: 0, interface: this.pi.interface, address: ip }));
      this.tftp = new TftpClient(await adoptUdpFd(fd));
    })();
    return this.configured;
  }

  /** Removes the address and rule this Pi added (before a new lease and at the end). */
  private async unconfigure(): Promise<void> {
    if (this.ruleAddress) {
      await run(this.netns, 'ip', ['rule', 'del', 'from', this.ruleAddress, 'lookup', String(this.table)], { timeoutMs: 10_000 });
      this.ruleAddress = null;
    }
    await run(this.netns, 'ip', ['-4', 'addr', 'flush', 'dev', this.pi.interface], { timeoutMs: 10_000 });
    await run(this.netns, 'ip', ['route', 'flush', 'table', String(this.table)], { timeoutMs: 10_000 });
  }

  private async tftpGet(e: Extract<Effect, { kind: 'tftp' }>): Promise<void> {
    try {
      await this.configured;
    } catch {
      return;
    }
    if (this.stopped || !this.tftp) return;
    const outcome = await this.tftp.get({
      ...e,
      retransmitMs: this.machine.timings.tftpRetransmitMs,
      fileTimeoutMs: this.machine.timings.tftpFileTimeoutMs,
    });
    if (!this.stopped) this.apply(this.machine.handle({ kind: 'tftp-result', id: e.id, outcome }, performance.now()));
  }

  private nfsUrl(server: string, root: string, file: string, version: 3 | 4): string {
    const base = root.endsWith('/') ? root : `${root}/`;
    return `nfs://${server}${base}${file}?version=${version}&if=${this.pi.interface}`;
  }

  private async nfs(server: string, root: string, version: 3 | 4, read: string[]): Promise<NfsOutcome> {
    const ls = await run(this.netns, 'nfs-ls', [this.nfsUrl(server, root, '', version)], { timeoutMs: 20_000 });
    if (ls.code !== 0)
      return {
        ok: false,
        detail: `nfs-ls ${server}:${root}: ${firstLine(ls.stderr || ls.stdout) || `exit ${ls.code}`}`,
        files: {},
        unread: {},
      };
    const entries = ls.stdout.split('\n').filter((l) => l.trim()).length;
    const files: Record<string, string> = {};
    const unread: Record<string, string> = {};
    const cat = async (file: string): Promise<void> => {
      const r = await run(this.netns, 'nfs-cat', [this.nfsUrl(server, root, file, version)], { timeoutMs: 20_000 });
      if (r.code === 0) files[file] = r.stdout;
      else unread[file] = firstLine(r.stderr) || `exit ${r.code}`;
    };
    for (const file of read) await cat(file);
    if (files[NSLCD_CONF]) for (const extra of PiBootMachine.extraRootFiles(files[NSLCD_CONF])) await cat(extra);
    return {
      ok: true,
      detail: `nfs://${server}${root} v${version}: ${entries} entries, read ${Object.keys(files).join(', ') || 'nothing else'}`,
      files,
      unread,
    };
  }

  private async ldap(req: LdapLoginRequest): Promise<{ ok: boolean; detail: string }> {
    const dir = mkdtempSync(path.join(this.tmp, 'ldap-'));
    try {
      const env: Record<string, string> = {
        LDAPTLS_REQCERT: 'demand',
        LDAPSOCKET_BIND_ADDRESSES: this.machine.address ?? '',
        LDAPCONF: '/dev/null',
        LDAPRC: '/dev/null',
      };
      if (req.caCert) {
        writeFileSync(path.join(dir, 'ca.crt'), req.caCert);
        env.LDAPTLS_CACERT = path.join(dir, 'ca.crt');
      }
      writeFileSync(path.join(dir, 'pw'), req.password, { mode: 0o600 });
      const tls = req.startTls ? ['-ZZ'] : [];
      const dn = `uid=${req.username},ou=people,${req.base}`;
      const who = await run(this.netns, 'ldapwhoami', ['-x', ...tls, '-H', req.uri, '-D', dn, '-y', path.join(dir, 'pw')], {
        timeoutMs: 20_000,
        env,
      });
      if (who.code !== 0) return { ok: false, detail: `bind as ${dn}: ${firstLine(who.stderr || who.stdout) || `exit ${who.code}`}` };
      // nslcd's lookups after the bind: the user (passwd) and its groups (group), anonymously.
      const search = (filter: string, attrs: string[]): Promise<Exec> =>
        run(this.netns, 'ldapsearch', ['-x', ...tls, '-LLL', '-H', req.uri, '-b', req.base, filter, ...attrs], { timeoutMs: 20_000, env });
      const user = await search(`(&(objectClass=posixAccount)(uid=${req.username}))`, [
        'uid',
        'uidNumber',
        'gidNumber',
        'homeDirectory',
        'loginShell',
      ]);
      if (user.code !== 0 || !/uidNumber:/i.test(user.stdout))
        return { ok: false, detail: `passwd lookup of ${req.username}: ${firstLine(user.stderr) || 'no entry'}` };
      const groups = await search(`(&(objectClass=posixGroup)(memberUid=${req.username}))`, ['cn', 'gidNumber']);
      if (groups.code !== 0) return { ok: false, detail: `group lookup of ${req.username}: ${firstLine(groups.stderr)}` };
      const home = /homeDirectory: (.*)/i.exec(user.stdout)?.[1] ?? '?';
      const groupCount = (groups.stdout.match(/^dn:/gm) ?? []).length;
      return { ok: true, detail: `${firstLine(who.stdout)}, home ${home}, ${groupCount} group(s)` };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async report(url: string, hostname: string): Promise<{ ok: boolean; detail: string }> {
    const deadline = performance.now() + (this.o.reportRetryMs ?? 60_000);
    let last = '';
    for (let i = 0; i < 1000 && !this.stopped; i++) {
      const r = await run(
        this.netns,
        'curl',
        [
          '-sS',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          '--max-time',
          '5',
          '--interface',
          this.pi.interface,
          '-X',
          'POST',
          '-H',
          'Content-Type: application/json',
          '--data',
          JSON.stringify({ hostname }),
          url,
        ],
        { timeoutMs: 10_000 },
      );
      last = r.code === 0 ? `HTTP ${r.stdout.trim()}` : firstLine(r.stderr) || `curl exit ${r.code}`;
      if (r.code === 0 && r.stdout.trim() === '204') return { ok: true, detail: `${url}: 204` };
      if (performance.now() + 2000 > deadline) break;
      await sleep(2000);
    }
    return { ok: false, detail: `${url}: ${last}` };
  }

  private abort(cause: string): void {
    this.finish('failed', cause);
  }

  private finish(outcome: PiResult['outcome'], cause: string | null): void {
    if (this.result) return;
    this.result = {
      name: this.pi.name ?? this.pi.mac,
      mac: this.pi.mac,
      model: this.pi.model,
      outcome,
      stage: this.machine.currentStage,
      cause,
      ip: this.machine.address,
      attempts: this.machine.attempts,
      ms: Math.round(performance.now() - this.startedAt),
      files: this.machine.files,
      timeline: this.timeline,
    };
    void this.stop().then(() => this.resolveFinished(this.result!));
  }

  /** Ends the run now (the deadline): outcome 'timeout'. */
  timeout(): void {
    this.finish('timeout', `still at ${this.machine.currentStage ?? 'power-on'} when the run's deadline passed`);
  }

  private async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dhcp?.close();
    this.dhcp = null;
    this.tftp?.close();
    this.tftp = null;
    await this.unconfigure();
  }
}

function networkOf(ip: string, prefixLength: number): string {
  const n = ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const net = (n & mask) >>> 0;
  return [24, 16, 8, 0].map((s) => (net >>> s) & 255).join('.');
}

/** Sets arp_ignore/arp_announce in a namespace holding several Pis (never the caller's own). */
async function isolateArp(netns: string): Promise<void> {
  for (const [key, value] of [
    ['net.ipv4.conf.all.arp_ignore', '1'],
    ['net.ipv4.conf.all.arp_announce', '2'],
  ]) {
    const r = await run(netns, 'sysctl', ['-q', '-w', `${key}=${value}`], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`sysctl ${key} in ${netns}: ${firstLine(r.stderr)}`);
  }
}

/** Boots every Pi at once; resolves when all have finished (or the deadline passed). */
export async function bootPis(options: BootPisOptions): Promise<PiResult[]> {
  const t0 = performance.now();
  const tmp = mkdtempSync(path.join(tmpdir(), 'pi-emulator-'));
  const runners: PiRunner[] = [];
  try {
    const namespaces = new Set(options.pis.map((p) => p.netns ?? options.netns ?? null).filter((n): n is string => !!n));
    for (const ns of namespaces) await isolateArp(ns);
    options.pis.forEach((pi, i) => runners.push(new PiRunner(pi, options, t0, (options.routingTableBase ?? 20000) + i, tmp)));
    const deadline = setTimeout(() => runners.forEach((r) => r.timeout()), options.deadlineMs ?? 300_000);
    try {
      await Promise.all(runners.map((r) => r.start()));
      return await Promise.all(runners.map((r) => r.finished));
    } finally {
      clearTimeout(deadline);
    }
  } finally {
    runners.forEach((r) => r.timeout());
    await Promise.all(runners.map((r) => r.finished.catch(() => undefined)));
    rmSync(tmp, { recursive: true, force: true });
  }
}
