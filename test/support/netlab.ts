/**
 * Test hosts in network namespaces: a lab of "switches" (bridges inside a namespace of their own)
 * and "hosts" (namespaces with veth interfaces plugged into a switch), with private addresses
 * chosen per run. Nothing here touches the root namespace's interfaces or routes: every link is
 * created inside namespaces this lab made, and `destroy()` removes them all.
 *
 * Names: `bmb<pid>x<n>-<name>` so that leftovers of a crashed run (its pid gone) can be recognised
 * and removed at the next start without disturbing a run that is still going (tests run in
 * parallel).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { promisify } from 'node:util';
import { inNetns, switchNetns } from '../../tools/pi-emulator/netns';

const execFileP = promisify(execFile);
const PREFIX = 'bmb';
let labCounter = 0;

/** Whether a process is alive (EPERM: alive, someone else's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listNamespaces(): string[] {
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);
}

/** Removes namespaces left by earlier runs whose process is gone. */
export function removeStaleNamespaces(): void {
  for (const ns of listNamespaces()) {
    const m = new RegExp(`^${PREFIX}(\\d+)x\\d+-`).exec(ns);
    if (m && !pidAlive(Number(m[1]))) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
  }
}

export function canUseNetns(): string | null {
  if (process.getuid?.() !== 0) return 'network namespace tests need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip netns) is not available';
  }
  return null;
}

export interface HostLink {
  /** Interface name inside the host, e.g. eth0. */
  ifname: string;
  mac: string;
  /** CIDR address, or null for an unconfigured interface (a booting Pi). */
  cidr: string | null;
}

export class NetLab {
  readonly id: string;
  /** The private /24s this lab hands out, e.g. 10.77.3. */
  private readonly namespaces: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private linkCounter = 0;
  private readonly switchNs: string;
  /** Open namespace files for inNamespace(): this thread's own, and each host's. */
  private selfNsFd: number | null = null;
  private readonly nsFds = new Map<string, number>();
  private switching = false;

  private constructor(readonly subnetBase: string) {
    this.id = `${PREFIX}${process.pid}x${++labCounter}`;
    this.switchNs = this.ns('switch');
  }

  /** Namespace name of a lab host. */
  ns(name: string): string {
    return `${this.id}-${name}`;
  }

  static async create(): Promise<NetLab> {
    removeStaleNamespaces();
    // A private /24 per lab: 10.<100-199>.<0-255> — only ever used inside this lab's namespaces.
    const lab = new NetLab(`10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 256)}`);
    await lab.addNamespace(lab.switchNs);
    return lab;
  }

  /** `10.x.y.<host>` in this lab's /24. */
  ip(host: number): string {
    return `${this.subnetBase}.${host}`;
  }

  private async addNamespace(name: string): Promise<void> {
    await execFileP('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await this.ipIn(name, ['link', 'set', 'lo', 'up']);
  }

  async ipIn(ns: string, args: string[]): Promise<void> {
    await execFileP('ip', ['-n', ns, ...args]);
  }

  /** A switch (bridge) inside the switch namespace. */
  async addSwitch(name: string): Promise<string> {
    await this.ipIn(this.switchNs, ['link', 'add', name, 'type', 'bridge']);
    // No STP delay: a Pi must not wait 30 s for the port to forward.
    await this.ipIn(this.switchNs, ['link', 'set', name, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0']);
    await this.ipIn(this.switchNs, ['link', 'set', name, 'up']);
    return name;
  }

  /** A host namespace (created on first use) with an interface plugged into `sw`. */
  async addHost(name: string, sw: string, link: HostLink): Promise<string> {
    const ns = this.ns(name);
    if (!this.namespaces.includes(ns)) await this.addNamespace(ns);
    const peer = `p${++this.linkCounter}`;
    const tmp = `t${this.id.slice(PREFIX.length)}${this.linkCounter}`.slice(0, 15);
    // Create the pair inside the switch namespace, then move one end into the host.
    await this.ipIn(this.switchNs, ['link', 'add', peer, 'type', 'veth', 'peer', 'name', tmp]);
    await this.ipIn(this.switchNs, ['link', 'set', tmp, 'netns', ns]);
    await this.ipIn(ns, ['link', 'set', tmp, 'name', link.ifname]);
    await this.ipIn(ns, ['link', 'set', link.ifname, 'address', link.mac]);
    if (link.cidr) await this.ipIn(ns, ['addr', 'add', link.cidr, 'dev', link.ifname]);
    await this.ipIn(ns, ['link', 'set', link.ifname, 'up']);
    await this.ipIn(this.switchNs, ['link', 'set', peer, 'master', sw]);
    await this.ipIn(this.switchNs, ['link', 'set', peer, 'up']);
    return ns;
  }

  /** Runs a command inside a host namespace and returns its output (throws on non-zero exit). */
  async exec(host: string, cmd: string, args: string[], options: { timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string }> {
    return execFileP('ip', ['netns', 'exec', this.ns(host), cmd, ...args], {
      timeout: options.timeoutMs ?? 30_000,
      maxBuffer: 16 * 1024 * 1024,
      encoding: 'utf8',
    });
  }

  /** Starts a long-running command inside a host namespace; killed by destroy(). */
  spawn(host: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Runs `fn` with the calling thread inside a host's network namespace, then returns to the
   * original one. Sockets created synchronously inside `fn` stay in that namespace for life:
   * this is how an in-process bramble serves a lab interface.
   */
  inNamespace<T>(host: string, fn: () => T): T {
    // The namespace files stay open until destroy(): an in-process server makes a socket per TFTP
    // transfer here, and two opens and closes each time were main-thread work a real server, which
    // runs inside its namespace, never does (bench/boot-storm.bench.ts).
    // Nested (fn switching again), "back" is the namespace fn runs in: switch the slow way.
    if (this.switching) return inNetns(this.ns(host), fn);
    this.selfNsFd ??= openSync('/proc/thread-self/ns/net', 'r');
    const ns = this.ns(host);
    let target = this.nsFds.get(ns);
    if (target === undefined) {
      target = openSync(`/run/netns/${ns}`, 'r');
      this.nsFds.set(ns, target);
    }
    this.switching = true;
    try {
      return switchNetns(this.selfNsFd, target, ns, fn);
    } finally {
      this.switching = false;
    }
  }

  async destroy(): Promise<void> {
    for (const fd of this.nsFds.values()) closeSync(fd);
    this.nsFds.clear();
    if (this.selfNsFd !== null) closeSync(this.selfNsFd);
    this.selfNsFd = null;
    for (const child of this.children) child.kill('SIGKILL');
    await Promise.all([...this.children].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
    for (const ns of this.namespaces.reverse()) {
      try {
        await execFileP('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
    this.namespaces.length = 0;
  }
}

/** SIGTERM, then SIGKILL if `child` has not exited 3 s later. */
export async function stopChild(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await waitForExit(child, 3000);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await waitForExit(child, 3000);
  }
}

/** Resolves when `child` has exited, or after `ms` at the latest. */
export function waitForExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
