/**
 * The ganesha backend: bramble's own nfs-ganesha, its files under the plugin's data folder
 * (ganesha.conf, ganesha.log, ganesha.pid, recovery/), run in the foreground (`ganesha.nfsd -F`)
 * and supervised: restarted with backoff when it dies, its last serious log line kept for health.
 *
 * Export changes are applied with SIGHUP: checked with nfs-ganesha 4.3 and a real client
 * (test/plugins/nfs/ganesha.e2e.spec.ts), a reload adds, removes and changes exports and their client
 * lists without a restart. A change of the core part (bind address, NFS versions) restarts it.
 *
 * NFSv3 needs rpcbind: when none answers on 127.0.0.1:111, bramble starts `rpcbind -f -w` and stops
 * it with ganesha. A ganesha left running by a bramble that was killed (its pid file names a
 * ganesha.nfsd using this config) is stopped before a new one starts.
 */
import { closeSync, fstatSync, openSync, promises as fs, readSync } from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Logger } from '../../core/plugin-api';
import { parseMountLog, type MountSeen } from './nfs.mount-log';
import { run, tailOf, type Spawner } from './nfs.process';

export interface GaneshaOptions {
  /** Folder of ganesha's files (created 0700). */
  dir: string;
  spawn: Spawner;
  logger: Logger;
  /** First restart delay; doubles per failed start up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** How long a start may take before it counts as failed. */
  readyTimeoutMs?: number;
  /** Called for each NFSv3 MOUNT ganesha logs (when its config has `logMounts`). */
  onMount?: (mount: MountSeen) => void;
  /** How often the log is read for mounts. */
  mountPollMs?: number;
}

/** Most bytes of log read per poll: a burst beyond it is skipped, not buffered. */
const MAX_LOG_READ = 1024 * 1024;

/** Log lines worth showing in health when ganesha stops or fails to start. */
const SERIOUS = / :(FATAL|CRIT|MAJ) :/;
/** Harmless at start without dbus or Kerberos (docs/test-lab.md "NFS"). */
const HARMLESS = /DBUS|krb5|keytab|gssd/i;

export class GaneshaServer {
  private child: ChildProcess | null = null;
  private rpcbind: ChildProcess | null = null;
  private ready = false;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private coreKey = '';
  private needRpcbind = false;
  private startedAt = 0;
  private starting: Promise<void> | null = null;
  private tail: { timer: NodeJS.Timeout; offset: number; partial: string; pending: Map<string, string>; busy: boolean } | null = null;
  problem: string | null = null;
  restarts = 0;
  reloads = 0;

  readonly configPath: string;
  readonly logPath: string;
  readonly pidPath: string;
  readonly recoveryRoot: string;

  constructor(private readonly options: GaneshaOptions) {
    this.configPath = path.join(options.dir, 'ganesha.conf');
    this.logPath = path.join(options.dir, 'ganesha.log');
    this.pidPath = path.join(options.dir, 'ganesha.pid');
    this.recoveryRoot = path.join(options.dir, 'recovery');
    this.backoff = options.backoffMs ?? 1000;
  }

  get running(): boolean {
    return this.child !== null && this.ready;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /**
   * Writes the configuration and makes ganesha serve it: starts it when not running, restarts it
   * when `coreKey` (what a reload cannot change) differs, else reloads it with SIGHUP.
   */
  async apply(config: string, coreKey: string, needRpcbind: boolean): Promise<void> {
    await fs.mkdir(this.options.dir, { recursive: true, mode: 0o700 });
    await fs.mkdir(this.recoveryRoot, { recursive: true, mode: 0o700 });
    const tmp = `${this.configPath}.tmp`;
    await fs.writeFile(tmp, config, { mode: 0o600 });
    await fs.rename(tmp, this.configPath);
    this.needRpcbind = needRpcbind;
    if (this.starting) await this.starting;
    if (this.child && this.coreKey === coreKey) {
      if (this.ready) {
        this.child.kill('SIGHUP');
        this.reloads++;
      }
      // Not ready yet: it reads the file being written now when it gets there.
      return;
    }
    this.coreKey = coreKey;
    if (this.child) await this.killChild();
    this.clearRestart();
    await this.start();
  }

  private clearRestart(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  private start(): Promise<void> {
    this.starting = this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.stopping = false;
    await this.stopLeftover();
    if (this.needRpcbind) {
      const problem = await this.ensureRpcbind();
      if (problem) {
        this.fail(problem);
        return;
      }
    }
    let logOffset = 0;
    try {
      const size = (await fs.stat(this.logPath)).size;
      if (size > 16 * 1024 * 1024) await fs.rename(this.logPath, `${this.logPath}.1`);
      else logOffset = size;
    } catch {
      // no log yet
    }
    const child = this.options.spawn('ganesha.nfsd', [
      '-F',
      '-f',
      this.configPath,
      '-L',
      this.logPath,
      '-p',
      this.pidPath,
      '-N',
      'NIV_EVENT',
    ]);
    this.child = child;
    this.ready = false;
    const output = tailOf(child);
    child.once('error', (error) => this.options.logger.warn('ganesha.nfsd could not be started', { error: error.message }));
    child.once('close', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.ready = false;
      if (this.stopping) return;
      const why = this.seriousLine(logOffset) ?? (output().trim().split('\n').pop() || 'no message');
      this.fail(`ganesha.nfsd exited (${signal ?? `code ${code}`}): ${why}`);
    });
    const readyTimeoutMs = this.options.readyTimeoutMs ?? 15_000;
    const deadline = Date.now() + readyTimeoutMs;
    while (this.child === child && Date.now() < deadline) {
      if (this.logSince(logOffset).includes('NFS SERVER INITIALIZED')) {
        this.ready = true;
        this.startedAt = Date.now();
        this.startTail(logOffset);
        this.problem = null;
        this.options.logger.info('ganesha.nfsd serving', { pid: child.pid, config: this.configPath });
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (this.child === child) {
      await this.killChild();
      this.fail(
        `ganesha.nfsd did not finish starting within ${readyTimeoutMs} ms: ${this.seriousLine(logOffset) ?? 'see ' + this.logPath}`,
      );
    }
  }

  /** Follows the log from `offset` for MOUNT lines (once; it survives restarts of ganesha). */
  private startTail(offset: number): void {
    const onMount = this.options.onMount;
    if (!onMount || this.tail) return;
    const tail = {
      timer: setInterval(() => void this.readTail(onMount), this.options.mountPollMs ?? 500),
      offset,
      partial: '',
      pending: new Map<string, string>(),
      busy: false,
    };
    tail.timer.unref();
    this.tail = tail;
  }

  private async readTail(onMount: (mount: MountSeen) => void): Promise<void> {
    const tail = this.tail;
    if (!tail || tail.busy) return;
    tail.busy = true;
    let handle: fs.FileHandle | null = null;
    try {
      handle = await fs.open(this.logPath, 'r');
      const size = (await handle.stat()).size;
      if (size < tail.offset) {
        // Rotated: start again at its beginning.
        tail.offset = 0;
        tail.partial = '';
      }
      if (size - tail.offset > MAX_LOG_READ) {
        tail.offset = size - MAX_LOG_READ;
        tail.partial = '';
      }
      const length = size - tail.offset;
      if (length <= 0) return;
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, tail.offset);
      tail.offset += bytesRead;
      const text = tail.partial + buffer.subarray(0, bytesRead).toString('utf8');
      const cut = text.lastIndexOf('\n');
      tail.partial = text.slice(cut + 1).slice(-4096);
      for (const mount of parseMountLog(text.slice(0, cut + 1), tail.pending)) onMount(mount);
    } catch {
      // no log yet
    } finally {
      tail.busy = false;
      await handle?.close();
    }
  }

  private fail(problem: string): void {
    this.problem = problem;
    this.options.logger.error('NFS server down', { problem });
    if (this.stopping) return;
    // A server that ran for a minute had a good start: begin the backoff again.
    if (this.startedAt && Date.now() - this.startedAt > 60_000) this.backoff = this.options.backoffMs ?? 1000;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs ?? 30_000);
    this.clearRestart();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.restarts++;
      void this.start();
    }, delay);
  }

  /** The log from `offset` (at most its last 4 MiB: what a start or a failure wrote). */
  private logSince(offset: number): string {
    let fd: number | null = null;
    try {
      fd = openSync(this.logPath, 'r');
      const size = fstatSync(fd).size;
      const from = Math.max(offset, size - 4 * 1024 * 1024);
      if (size <= from) return '';
      const buffer = Buffer.alloc(size - from);
      const n = readSync(fd, buffer, 0, buffer.length, from);
      return buffer.subarray(0, n).toString('utf8');
    } catch {
      return '';
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  private seriousLine(offset: number): string | null {
    const lines = this.logSince(offset)
      .split('\n')
      .filter((l) => SERIOUS.test(l) && !HARMLESS.test(l));
    const last = lines.pop();
    return last ? last.replace(/^.*?\[[^\]]*\] /, '').slice(0, 300) : null;
  }

  private async rpcbindAnswers(): Promise<boolean> {
    return (await run(this.options.spawn, 'rpcinfo', ['-T', 'tcp', '127.0.0.1', '100000'], 3000)).code === 0;
  }

  /** Null when rpcbind answers (already or once started), else why not. */
  private async ensureRpcbind(): Promise<string | null> {
    if (await this.rpcbindAnswers()) return null;
    if (this.rpcbind) {
      this.rpcbind.kill('SIGKILL');
      this.rpcbind = null;
    }
    const child = this.options.spawn('rpcbind', ['-f', '-w']);
    const output = tailOf(child);
    this.rpcbind = child;
    child.once('error', () => undefined);
    child.once('close', () => {
      if (this.rpcbind === child) this.rpcbind = null;
    });
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if (await this.rpcbindAnswers()) {
        this.options.logger.info('started rpcbind for NFSv3', { pid: child.pid });
        return null;
      }
      if (this.rpcbind !== child) break;
    }
    child.kill('SIGKILL');
    return `rpcbind (needed for NFSv3) does not answer and could not be started: ${output().trim() || 'no message'}`;
  }

  /** Stops a ganesha.nfsd that an earlier, killed bramble left running with this config. */
  private async stopLeftover(): Promise<void> {
    let pid: number;
    try {
      pid = Number((await fs.readFile(this.pidPath, 'utf8')).trim());
    } catch {
      return;
    }
    if (!Number.isInteger(pid) || pid <= 1 || pid === this.child?.pid) return;
    try {
      const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      if (!cmdline[0].endsWith('ganesha.nfsd') || !cmdline.includes(this.configPath)) return;
    } catch {
      return;
    }
    this.options.logger.warn('stopping a ganesha.nfsd left by an earlier run', { pid });
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }

  private async killChild(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    this.ready = false;
    await stopProcess(child);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.clearRestart();
    if (this.tail) clearInterval(this.tail.timer);
    this.tail = null;
    if (this.starting) await this.starting.catch(() => undefined);
    await this.killChild();
    const rpcbind = this.rpcbind;
    this.rpcbind = null;
    if (rpcbind) await stopProcess(rpcbind);
  }
}

/** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
