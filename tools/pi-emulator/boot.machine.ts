/**
 * One emulated Pi's boot as a state machine: inputs (a DHCP reply, a timer, the result of a TFTP
 * read, of the NFS root read, of the LDAP login, of the BOOTED report) go in, effects (send this
 * packet, start this timer, read this file...) come out. No I/O and no clock: the driver
 * (`emulator.ts`) carries out the effects and passes the time in, so the rules below are tested
 * without a network (test/tools/pi-emulator/boot.machine.spec.ts).
 *
 * The boot, per docs/pi-netboot-protocol.md:
 *  1. DHCP (§1.2, §2, §2.5): DISCOVER every `dhcpRetryMs`, at most `dhcpTries` times; collect
 *     OFFERs for `offerWaitMs` after the first; go on once an address offer and a boot offer
 *     (option 43 "Raspberry Pi Boot") are known — one packet in full mode, two in proxy mode.
 *     A Pi 3B takes the OFFER as its lease; a Pi 4/5 REQUESTs the address offer and waits for
 *     the ACK (a NAK starts DHCP over).
 *  2. FIRMWARE (§3.1, §3.2): the Pi 3 ROM's `bootcode.bin` (no options, 512-byte blocks) and
 *     `bootsig.bin`; then the prefix probe (`<serial>/start.elf`, `<serial>/start4.elf` then
 *     `start.elf`, Pi 5: `config.txt`, see profiles.ts): found → every later file is asked for
 *     with the prefix, missing → without. Then the firmware files; a missing optional file is
 *     normal, a missing required one fails the attempt.
 *  3. KERNEL: device tree, cmdline.txt, kernel, initramfs (from config.txt's keys).
 *  4. ROOT_MOUNTED: after `kernelBootMs` (the kernel starting), the root named by cmdline.txt's
 *     `nfsroot=` is read (§5.1), with the files the login needs (nslcd.conf and its CA); a refused
 *     mount is tried again `nfsRetryMs` later, `nfsTries` times in all.
 *  5. USER_LOGGED_IN (optional: only when a login is given), `osBootMs` after the mount (the OS
 *     starting): StartTLS, bind as the user, nslcd's passwd and group lookups.
 *  6. BOOTED: `POST http://<nfsroot server>:<port>/booted`, as bramble's unit does.
 * A failed attempt (DHCP gave up, a required file missing or timed out) starts again from DHCP
 * after `restartDelayMs`, as the firmware does going round BOOT_ORDER, until `maxAttempts`.
 */
import type { DhcpPacket } from '../../src/plugins/dhcp/dhcp.codec';
import { buildDiscover, buildRequest, readReply, type AddressOffer, type BootOffer } from './dhcp-client';
import {
  firmwareFiles,
  kernelFiles,
  parseConfigTxt,
  parseNfsRoot,
  prefixProbeFiles,
  probePrefix,
  PROFILES,
  type BootFile,
  type PiModel,
  type PiTimings,
  type PrefixMode,
} from './profiles';

export type Stage = 'DHCP' | 'FIRMWARE' | 'KERNEL' | 'ROOT_MOUNTED' | 'USER_LOGGED_IN' | 'BOOTED' | 'FAILED';

export interface PiConfig {
  model: PiModel;
  mac: string;
  serial: number;
  prefixMode?: PrefixMode;
  /**
   * A directory user to log in as once the root is read; none: no login. The LDAP server, base and
   * CA come from the root's /etc/nslcd.conf, read as nslcd reads it (as root, so squashed to
   * nobody by a root-squashing export). `fallback` is used only when that file cannot be read, and
   * the timeline says so (a real Pi would have no directory login then).
   */
  login?: { username: string; password: string; fallback?: { uri: string; base: string; caCert: string | null } } | null;
  /** TCP port of bramble's boot report; null: no report (the boot ends at the last stage reached). */
  reportPort?: number | null;
  /** Boot attempts before giving up (the firmware would go on for ever). Default 3. */
  maxAttempts?: number;
  /** Replace some of the model's timings (tests shorten them). */
  timings?: Partial<PiTimings>;
  /** Seed of the DHCP transaction ids (default from the MAC). */
  xidSeed?: number;
}

export type TftpOutcome =
  | { status: 'ok'; bytes: number; ms: number; blksize: number; tsize: number | null; content: Buffer | null }
  | { status: 'missing'; message: string }
  | { status: 'error'; message: string }
  | { status: 'timeout'; message: string };

export interface NfsOutcome {
  ok: boolean;
  detail: string;
  /** Contents of the root's files asked for (path → text), those that could be read. */
  files: Record<string, string>;
  /** The files that could not be read → why. */
  unread: Record<string, string>;
}

export type Input =
  | { kind: 'power-on' }
  | { kind: 'dhcp-reply'; packet: DhcpPacket }
  | { kind: 'timer'; id: number }
  | { kind: 'tftp-result'; id: number; outcome: TftpOutcome }
  | { kind: 'nfs-result'; outcome: NfsOutcome }
  | { kind: 'ldap-result'; ok: boolean; detail: string }
  | { kind: 'report-result'; ok: boolean; detail: string };

export interface LdapLoginRequest {
  uri: string;
  base: string;
  startTls: boolean;
  /** PEM of the CA the image trusts (tls_cacertfile), or null. */
  caCert: string | null;
  username: string;
  password: string;
}

export type Effect =
  | { kind: 'dhcp-send'; packet: DhcpPacket }
  | { kind: 'timer'; id: number; ms: number }
  | { kind: 'configure'; ip: string; prefixLength: number; router: string | null }
  | {
      kind: 'tftp';
      id: number;
      server: string;
      file: string;
      /** Send `tsize 0` (and `blksize` when set). */
      tsize: boolean;
      blksize: number | null;
      /** Stop after the OACK with "Early terminate" (the prefix probe). */
      probeOnly: boolean;
      /** Probe the size first, then ask again and read (§3.3); false for the Pi 3 ROM's bootcode.bin. */
      sizeProbeFirst: boolean;
      /** Keep the content (config.txt, cmdline.txt). */
      keep: boolean;
    }
  | { kind: 'nfs'; server: string; path: string; version: 3 | 4; read: string[] }
  | { kind: 'ldap'; request: LdapLoginRequest }
  | { kind: 'report'; url: string; hostname: string }
  | { kind: 'timeline'; stage: Stage; event: string; file?: string; detail?: string }
  | { kind: 'finished'; outcome: 'booted' | 'failed'; stage: Stage; cause: string | null };

export interface FileRecord {
  file: string;
  status: TftpOutcome['status'] | 'probed';
  bytes: number;
  ms: number;
  blksize: number;
  stage: 'FIRMWARE' | 'KERNEL';
}

/** Files of the NFS root the Pi reads for its login (as nslcd and PAM would). */
export const NSLCD_CONF = 'etc/nslcd.conf';

type Phase =
  | { name: 'off' }
  | { name: 'discover'; xid: number; tries: number; address: AddressOffer | null; boot: BootOffer | null; waiting: boolean }
  | { name: 'request'; xid: number; tries: number; address: AddressOffer; boot: BootOffer }
  | { name: 'tftp'; queue: BootFile[]; current: BootFile | null; probing: string[]; afterProbe: boolean }
  | { name: 'kernel-boot' }
  | { name: 'os-boot'; files: NfsOutcome['files']; unread: NfsOutcome['unread'] }
  | { name: 'nfs'; tries: number }
  | { name: 'ldap' }
  | { name: 'report' }
  | { name: 'done' };

const STAGE_ORDER: Stage[] = ['DHCP', 'FIRMWARE', 'KERNEL', 'ROOT_MOUNTED', 'USER_LOGGED_IN', 'BOOTED'];

/** nslcd.conf's `uri`, `base`, `ssl` and `tls_cacertfile` (the keys a login needs). */
export function parseNslcdConf(text: string): { uri: string | null; base: string | null; startTls: boolean; caFile: string | null } {
  const out = { uri: null as string | null, base: null as string | null, startTls: false, caFile: null as string | null };
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(\S+)\s+(.+?)\s*$/.exec(raw.replace(/#.*$/, ''));
    if (!m) continue;
    const [, key, value] = m;
    if (key === 'uri' && !out.uri) out.uri = value.split(/\s+/)[0];
    else if (key === 'base' && !out.base) out.base = value;
    else if (key === 'ssl') out.startTls = value === 'start_tls';
    else if (key === 'tls_cacertfile') out.caFile = value;
  }
  return out;
}

export class PiBootMachine {
  readonly timings: PiTimings;
  private phase: Phase = { name: 'off' };
  private stage: Stage | null = null;
  private attempt = 0;
  private timerSeq = 0;
  /** The one live timer; any other id that fires is stale. */
  private timer = -1;
  private tftpSeq = 0;
  private tftpPending = -1;
  private startedAt = 0;
  private prefix = '';
  private tftpServer = '';
  private ip: string | null = null;
  private config = '';
  private cmdline = '';
  private readonly loaded = new Set<string>();
  readonly files: FileRecord[] = [];
  private xidCounter: number;

  constructor(readonly pi: PiConfig) {
    this.timings = { ...PROFILES[pi.model].timings, ...pi.timings };
    const macLow = parseInt(pi.mac.replace(/:/g, '').slice(6), 16);
    this.xidCounter = (pi.xidSeed ?? (macLow * 2654435761) >>> 0) >>> 0;
  }

  get currentStage(): Stage | null {
    return this.stage;
  }

  get address(): string | null {
    return this.ip;
  }

  get attempts(): number {
    return this.attempt;
  }

  handle(input: Input, now: number): Effect[] {
    const out: Effect[] = [];
    switch (input.kind) {
      case 'power-on':
        if (this.phase.name === 'off') this.powerOn(now, out);
        break;
      case 'timer':
        if (input.id === this.timer) this.onTimer(now, out);
        break;
      case 'dhcp-reply':
        this.onDhcp(input.packet, now, out);
        break;
      case 'tftp-result':
        if (input.id === this.tftpPending && this.phase.name === 'tftp') this.onTftp(input.outcome, now, out);
        break;
      case 'nfs-result':
        if (this.phase.name === 'nfs' && this.timer === -1) this.onNfs(input.outcome, now, out);
        break;
      case 'ldap-result':
        if (this.phase.name === 'ldap') this.onLdap(input.ok, input.detail, now, out);
        break;
      case 'report-result':
        if (this.phase.name === 'report') this.onReport(input.ok, input.detail, now, out);
        break;
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // DHCP

  private nextXid(): number {
    this.xidCounter = (Math.imul(this.xidCounter, 1103515245) + 12345) >>> 0;
    return this.xidCounter;
  }

  private secs(now: number): number {
    return Math.min(0xffff, Math.floor((now - this.startedAt) / 1000));
  }

  private setTimer(ms: number, out: Effect[]): void {
    this.timer = ++this.timerSeq;
    out.push({ kind: 'timer', id: this.timer, ms });
  }

  private enter(stage: Stage, out: Effect[], event: string, file?: string, detail?: string): void {
    if (this.stage === null || STAGE_ORDER.indexOf(stage) > STAGE_ORDER.indexOf(this.stage)) this.stage = stage;
    out.push({ kind: 'timeline', stage, event, ...(file ? { file } : {}), ...(detail ? { detail } : {}) });
  }

  private powerOn(now: number, out: Effect[]): void {
    this.attempt++;
    this.startedAt = now;
    this.stage = null;
    this.prefix = '';
    this.loaded.clear();
    this.enter('DHCP', out, this.attempt === 1 ? 'power on' : `boot attempt ${this.attempt}`);
    this.sendDiscover(0, now, out);
  }

  private sendDiscover(tries: number, now: number, out: Effect[]): void {
    const prev = this.phase.name === 'discover' ? this.phase : null;
    const xid = prev?.xid ?? this.nextXid();
    this.phase = { name: 'discover', xid, tries: tries + 1, address: prev?.address ?? null, boot: prev?.boot ?? null, waiting: false };
    if (tries > 0) out.push({ kind: 'timeline', stage: 'DHCP', event: `DISCOVER again (try ${tries + 1})` });
    out.push({ kind: 'dhcp-send', packet: buildDiscover(this.pi, xid, this.secs(now)) });
    this.setTimer(this.timings.dhcpRetryMs, out);
  }

  private onDhcp(packet: DhcpPacket, now: number, out: Effect[]): void {
    const phase = this.phase;
    if (phase.name !== 'discover' && phase.name !== 'request') return;
    const reading = readReply(this.pi, phase.xid, packet);
    if (reading.kind === 'ignore') return;
    if (phase.name === 'discover') {
      if (reading.kind !== 'offer') return;
      const first = !phase.address && !phase.boot;
      phase.address ??= reading.address;
      phase.boot ??= reading.boot;
      out.push({
        kind: 'timeline',
        stage: 'DHCP',
        event: `OFFER from ${reading.serverId ?? packet.siaddr}`,
        detail: [
          reading.address ? `address ${reading.address.ip}` : 'no address',
          reading.boot ? `boot via ${reading.boot.tftpFrom}` : 'no boot menu',
        ].join(', '),
      });
      if (!phase.address || !phase.boot) return; // keep listening until the retry timer
      // Pi 3B: the first acceptable OFFER is final. Pi 4/5: wait a little for other offers.
      if (this.pi.model === 'pi3b' || this.timings.offerWaitMs === 0) this.offersChosen(now, out);
      else if (first || !phase.waiting) {
        phase.waiting = true;
        this.setTimer(this.timings.offerWaitMs, out);
      }
      return;
    }
    // request phase
    if (reading.kind === 'nak' && reading.serverId === phase.address.serverId) {
      out.push({ kind: 'timeline', stage: 'DHCP', event: `NAK from ${reading.serverId}` });
      this.phase = { name: 'off' };
      this.sendDiscoverFresh(now, out);
      return;
    }
    if (reading.kind === 'ack' && (reading.serverId ?? phase.address.serverId) === phase.address.serverId && reading.address) {
      out.push({ kind: 'timeline', stage: 'DHCP', event: `ACK from ${reading.serverId}`, detail: `address ${reading.address.ip}` });
      this.leased(reading.address, reading.boot ?? phase.boot, now, out);
    }
  }

  private sendDiscoverFresh(now: number, out: Effect[]): void {
    this.phase = { name: 'off' };
    this.sendDiscover(0, now, out);
  }

  private offersChosen(now: number, out: Effect[]): void {
    const phase = this.phase;
    if (phase.name !== 'discover' || !phase.address || !phase.boot) return;
    if (!PROFILES[this.pi.model].sendsRequest) {
      this.leased(phase.address, phase.boot, now, out);
      return;
    }
    this.phase = { name: 'request', xid: phase.xid, tries: 1, address: phase.address, boot: phase.boot };
    out.push({ kind: 'dhcp-send', packet: buildRequest(this.pi, phase.xid, this.secs(now), phase.address) });
    this.setTimer(this.timings.dhcpRetryMs, out);
  }

  private onTimer(now: number, out: Effect[]): void {
    const phase = this.phase;
    this.timer = -1;
    if (phase.name === 'off') {
      this.powerOn(now, out);
    } else if (phase.name === 'kernel-boot' || phase.name === 'nfs') {
      this.mountRoot(out);
    } else if (phase.name === 'os-boot') {
      this.osStarted(phase.files, phase.unread, out);
    } else if (phase.name === 'discover') {
      if (phase.waiting && phase.address && phase.boot) return this.offersChosen(now, out);
      if (phase.tries >= this.timings.dhcpTries) return this.attemptFailed(`no usable DHCP offer after ${phase.tries} DISCOVERs`, now, out);
      this.sendDiscover(phase.tries, now, out);
    } else if (phase.name === 'request') {
      if (phase.tries >= this.timings.dhcpTries) return this.attemptFailed(`no ACK after ${phase.tries} REQUESTs`, now, out);
      phase.tries++;
      out.push({ kind: 'timeline', stage: 'DHCP', event: `REQUEST again (try ${phase.tries})` });
      out.push({ kind: 'dhcp-send', packet: buildRequest(this.pi, phase.xid, this.secs(now), phase.address) });
      this.setTimer(this.timings.dhcpRetryMs, out);
    }
  }

  private leased(address: AddressOffer, boot: BootOffer, now: number, out: Effect[]): void {
    this.ip = address.ip;
    this.tftpServer = boot.tftpServer;
    out.push({ kind: 'configure', ip: address.ip, prefixLength: address.prefixLength, router: address.router });
    out.push({
      kind: 'timeline',
      stage: 'DHCP',
      event: 'lease',
      detail: `${address.ip}/${address.prefixLength}, TFTP server ${boot.tftpServer} (${boot.tftpFrom})`,
    });
    const { beforeProbe } = firmwareFiles(this.pi.model);
    this.phase = { name: 'tftp', queue: [...beforeProbe], current: null, probing: [], afterProbe: false };
    this.nextFile(now, out);
  }

  // ------------------------------------------------------------------------------------------
  // TFTP

  private tftp(file: BootFile, name: string, probeOnly: boolean, out: Effect[]): void {
    this.tftpPending = ++this.tftpSeq;
    const profile = PROFILES[this.pi.model];
    out.push({
      kind: 'tftp',
      id: this.tftpPending,
      server: this.tftpServer,
      file: name,
      tsize: file.tsize,
      blksize: file.tsize ? profile.blksize : null,
      probeOnly,
      sizeProbeFirst: file.tsize && !probeOnly,
      keep: name.endsWith('config.txt') || name.endsWith('cmdline.txt'),
    });
  }

  private nextFile(now: number, out: Effect[]): void {
    const phase = this.phase;
    if (phase.name !== 'tftp') return;
    if (phase.queue.length === 0 && !phase.afterProbe) {
      // The prefix probe (§3.1) comes after the unprefixed ROM files.
      phase.afterProbe = true;
      phase.probing = prefixProbeFiles(this.pi.model);
      const candidate = probePrefix(this.pi.model, this.pi.serial, this.pi.mac, this.pi.prefixMode);
      if (candidate === '') {
        phase.probing = [];
        phase.queue = [...firmwareFiles(this.pi.model).afterProbe];
      } else {
        const probe = phase.probing[0];
        phase.current = null;
        this.tftp({ name: probe, required: false, prefixed: true, tsize: true, stage: 'FIRMWARE' }, candidate + probe, true, out);
        this.enter('FIRMWARE', out, 'prefix probe', candidate + probe);
        this.prefix = candidate;
        return;
      }
    }
    let file = phase.queue.shift();
    while (file?.unlessLoaded && this.loaded.has(file.unlessLoaded)) file = phase.queue.shift();
    if (!file) {
      if (this.stage === 'FIRMWARE' || this.stage === 'DHCP') {
        phase.queue = kernelFiles(this.pi.model, parseConfigTxt(this.config, this.pi.model));
        return this.nextFile(now, out);
      }
      return this.kernelLoaded(now, out);
    }
    phase.current = file;
    const name = (file.prefixed ? this.prefix : '') + file.name;
    if (file.stage === 'KERNEL' && this.stage !== 'KERNEL') this.enter('KERNEL', out, 'kernel files', name);
    else if (this.stage === 'DHCP') this.enter('FIRMWARE', out, 'firmware files', name);
    this.tftp(file, name, false, out);
  }

  private onTftp(outcome: TftpOutcome, now: number, out: Effect[]): void {
    const phase = this.phase as Extract<Phase, { name: 'tftp' }>;
    this.tftpPending = -1;
    if (phase.current === null) {
      // A prefix probe.
      const probe = phase.probing.shift()!;
      if (outcome.status === 'ok') {
        this.files.push({
          file: this.prefix + probe,
          status: 'probed',
          bytes: 0,
          ms: outcome.ms,
          blksize: outcome.blksize,
          stage: 'FIRMWARE',
        });
        out.push({
          kind: 'timeline',
          stage: 'FIRMWARE',
          event: 'prefix kept',
          file: this.prefix + probe,
          detail: `size ${outcome.tsize ?? '?'}`,
        });
      } else if (outcome.status === 'missing' && phase.probing.length > 0) {
        this.tftp(
          { name: phase.probing[0], required: false, prefixed: true, tsize: true, stage: 'FIRMWARE' },
          this.prefix + phase.probing[0],
          true,
          out,
        );
        return;
      } else if (outcome.status === 'missing') {
        out.push({ kind: 'timeline', stage: 'FIRMWARE', event: 'prefix dropped', file: this.prefix + probe, detail: outcome.message });
        this.prefix = '';
      } else {
        return this.attemptFailed(`prefix probe ${this.prefix + probe}: ${outcome.message}`, now, out);
      }
      phase.queue = [...firmwareFiles(this.pi.model).afterProbe];
      return this.nextFile(now, out);
    }
    const file = phase.current;
    const name = (file.prefixed ? this.prefix : '') + file.name;
    if (outcome.status === 'ok') {
      this.loaded.add(file.name);
      this.files.push({ file: name, status: 'ok', bytes: outcome.bytes, ms: outcome.ms, blksize: outcome.blksize, stage: file.stage });
      if (file.name === 'config.txt' && outcome.content) this.config = outcome.content.toString('utf8');
      if (file.name === 'cmdline.txt' && outcome.content) this.cmdline = outcome.content.toString('utf8');
      out.push({
        kind: 'timeline',
        stage: file.stage,
        event: 'file',
        file: name,
        detail: `${outcome.bytes} B in ${Math.round(outcome.ms)} ms, blksize ${outcome.blksize}`,
      });
      return this.nextFile(now, out);
    }
    this.files.push({ file: name, status: outcome.status, bytes: 0, ms: 0, blksize: 0, stage: file.stage });
    if (outcome.status === 'missing' && !file.required) {
      out.push({ kind: 'timeline', stage: file.stage, event: 'missing (normal)', file: name });
      return this.nextFile(now, out);
    }
    this.attemptFailed(`${name}: ${outcome.status === 'missing' ? 'file not found' : outcome.message}`, now, out);
  }

  private attemptFailed(cause: string, now: number, out: Effect[]): void {
    const maxAttempts = this.pi.maxAttempts ?? 3;
    this.tftpPending = -1;
    if (this.attempt < maxAttempts) {
      out.push({ kind: 'timeline', stage: this.stage ?? 'DHCP', event: 'boot attempt failed', detail: cause });
      this.phase = { name: 'off' };
      this.setTimer(this.timings.restartDelayMs, out);
      return;
    }
    this.finish('failed', cause, out);
  }

  private finish(outcome: 'booted' | 'failed', cause: string | null, out: Effect[]): void {
    const stage = this.stage ?? 'DHCP';
    this.phase = { name: 'done' };
    this.timer = -1;
    if (outcome === 'failed') out.push({ kind: 'timeline', stage: 'FAILED', event: 'gave up', detail: cause ?? undefined });
    out.push({ kind: 'finished', outcome, stage, cause });
  }

  // ------------------------------------------------------------------------------------------
  // After the kernel: NFS root, login, report

  private nfsRoot(): { server: string; path: string; version: 3 | 4 } | null {
    const root = parseNfsRoot(this.cmdline);
    if (!root) return null;
    const vers = root.options.find((o) => /^(nfs)?vers=/.test(o) || /^v\d$/.test(o));
    return { server: root.server, path: root.path, version: vers && /4/.test(vers) ? 4 : 3 };
  }

  private kernelLoaded(now: number, out: Effect[]): void {
    const root = this.nfsRoot();
    if (!root) return this.finish('failed', this.cmdline ? 'cmdline.txt has no nfsroot=' : 'no cmdline.txt was read', out);
    this.phase = { name: 'kernel-boot' };
    out.push({
      kind: 'timeline',
      stage: 'KERNEL',
      event: 'kernel starting',
      detail: `root ${root.server}:${root.path} (NFSv${root.version})`,
    });
    this.setTimer(this.timings.kernelBootMs, out);
  }

  private mountRoot(out: Effect[]): void {
    const root = this.nfsRoot()!;
    const tries = this.phase.name === 'nfs' ? this.phase.tries + 1 : 1;
    this.phase = { name: 'nfs', tries };
    out.push({ kind: 'nfs', server: root.server, path: root.path, version: root.version, read: ['etc/hostname', NSLCD_CONF] });
  }

  private onNfs(outcome: NfsOutcome, now: number, out: Effect[]): void {
    const phase = this.phase as Extract<Phase, { name: 'nfs' }>;
    if (!outcome.ok && phase.tries < this.timings.nfsTries) {
      out.push({ kind: 'timeline', stage: 'KERNEL', event: `root mount failed (try ${phase.tries})`, detail: outcome.detail });
      this.setTimer(this.timings.nfsRetryMs, out);
      return;
    }
    if (!outcome.ok) return this.finish('failed', `NFS root: ${outcome.detail}`, out);
    this.enter('ROOT_MOUNTED', out, 'root read', undefined, outcome.detail);
    this.phase = { name: 'os-boot', files: outcome.files, unread: outcome.unread };
    this.setTimer(this.timings.osBootMs, out);
  }

  /** The OS is up: the directory login (nslcd's configuration read from the root), then the report. */
  private osStarted(files: NfsOutcome['files'], unread: NfsOutcome['unread'], out: Effect[]): void {
    const outcome = { files, unread };
    const login = this.pi.login;
    if (login) {
      const conf = outcome.files[NSLCD_CONF];
      const why = outcome.unread[NSLCD_CONF] ?? 'not found';
      if (!conf && login.fallback) {
        out.push({
          kind: 'timeline',
          stage: 'ROOT_MOUNTED',
          event: `/${NSLCD_CONF} unreadable: using the given LDAP settings`,
          detail: why,
        });
        this.phase = { name: 'ldap' };
        const f = login.fallback;
        out.push({
          kind: 'ldap',
          request: { uri: f.uri, base: f.base, startTls: true, caCert: f.caCert, username: login.username, password: login.password },
        });
        return;
      }
      if (!conf) return this.finish('failed', `/${NSLCD_CONF} of the root: ${why}: no directory login possible`, out);
      const nslcd = parseNslcdConf(conf);
      if (!nslcd.uri || !nslcd.base) return this.finish('failed', `/${NSLCD_CONF} names no uri or base`, out);
      this.phase = { name: 'ldap' };
      const caCert = nslcd.caFile ? (outcome.files[nslcd.caFile.replace(/^\//, '')] ?? null) : null;
      out.push({
        kind: 'ldap',
        request: { uri: nslcd.uri, base: nslcd.base, startTls: nslcd.startTls, caCert, username: login.username, password: login.password },
      });
      return;
    }
    this.report(out);
  }

  /** The root files the NFS read must return besides `read` (the CA nslcd.conf names). */
  static extraRootFiles(nslcdConf: string): string[] {
    const ca = parseNslcdConf(nslcdConf).caFile;
    return ca ? [ca.replace(/^\//, '')] : [];
  }

  private onLdap(ok: boolean, detail: string, now: number, out: Effect[]): void {
    if (!ok) return this.finish('failed', `login: ${detail}`, out);
    this.enter('USER_LOGGED_IN', out, 'login', undefined, detail);
    this.report(out);
  }

  private report(out: Effect[]): void {
    const root = this.nfsRoot()!;
    if (this.pi.reportPort === null || this.pi.reportPort === 0) return this.finish('booted', null, out);
    this.phase = { name: 'report' };
    const port = this.pi.reportPort ?? 6970;
    out.push({ kind: 'report', url: `http://${root.server}:${port}/booted`, hostname: `pi-${this.pi.mac.replace(/:/g, '').slice(6)}` });
  }

  private onReport(ok: boolean, detail: string, now: number, out: Effect[]): void {
    if (!ok) return this.finish('failed', `BOOTED report: ${detail}`, out);
    this.enter('BOOTED', out, 'reported', undefined, detail);
    this.finish('booted', null, out);
  }
}
