/**
 * The boot lab: bramble as a real process (`node dist/src/main.js`, every built-in plugin) in a
 * lab namespace, emulated Pis (tools/pi-emulator) in another namespace on the same bridge, and
 * optionally a dnsmasq playing the LAN's router (proxy mode).
 *
 *   switch "lan" ── srv   (eth0 .1: bramble; its own mount namespace with a tmpfs /run, for
 *                   │      ganesha and rpcbind: docs/test-lab.md "NFS")
 *                   ├── router (eth0 .254: dnsmasq handing out .100-.199, proxy mode only)
 *                   └── pis    (pi0, pi1...: one interface per Pi, each with its Pi's MAC)
 *
 * bramble's HTTP API listens on 127.0.0.1:3000 inside srv; the test reaches it through a TCP
 * forwarder in this process (a listener on 127.0.0.1 here, each connection made inside srv with
 * test/support/tcp-listen.ts), so HTTP, GraphQL and graphql-ws work as from an admin's machine
 * and bramble stays a real process that can be SIGKILLed. A kill is followed by killing what is
 * left in bramble's mount namespace (ganesha, rpcbind), as systemd would kill the service's
 * cgroup; `leftovers` reports how many there were.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { NetLab, pidAlive, waitForExit } from './netlab';
import { repoRoot } from './server-process';
import { tcpConnectInNamespace } from './tcp-listen';
import { removeStaleTempDirs, tempDir } from './temp';

export const ADMIN_TOKEN = 'boot-lab-admin-token-0123456789';
const LAB_DIR_PREFIX = 'bramble-boot-lab-';

const HTTP_PORT = 3000;

/** The first missing tool, as a skip reason, or null. */
export function bootLabUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the boot lab needs root (network namespaces)';
  for (const tool of [
    'ip',
    'unshare',
    'nsenter',
    'dnsmasq',
    'nfs-ls',
    'nfs-cat',
    'ldapwhoami',
    'ldapsearch',
    'curl',
    'ganesha.nfsd',
    'rpcbind',
  ]) {
    const found = (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
      .split(':')
      .concat(['/usr/sbin', '/sbin'])
      .some((dir) => {
        try {
          return readdirSync(dir).includes(tool);
        } catch {
          return false;
        }
      });
    if (!found) return `${tool} is not installed (scripts/ensure-test-deps.sh)`;
  }
  return null;
}

export interface GqlResult<T = any> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

export class BootLab {
  private bramble: ChildProcess | null = null;
  private brambleMountNs: string | null = null;
  private log = '';
  private forwarder: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly clients: Client[] = [];
  private piCount = 0;
  private router: ChildProcess | null = null;
  url = '';
  /** Processes killed in bramble's mount namespace after it was stopped or killed. */
  leftovers = 0;

  private constructor(
    readonly netlab: NetLab,
    readonly tmp: { dir: string; cleanup(): void },
  ) {}

  get serverIp(): string {
    return this.netlab.ip(1);
  }

  get routerIp(): string {
    return this.netlab.ip(254);
  }

  get pisNs(): string {
    return this.netlab.ns('pis');
  }

  get dataDir(): string {
    return path.join(this.tmp.dir, 'data');
  }

  get imagesDir(): string {
    return path.join(this.tmp.dir, 'images');
  }

  get homesDir(): string {
    return path.join(this.tmp.dir, 'homes');
  }

  /**
   * Kills what an earlier run left when it died before its teardown (bramble dies with the test
   * through its parent-death signal, its ganesha and rpcbind do not): processes whose command line
   * names a boot lab folder of a test process that is gone; then those folders. Returns how many
   * processes.
   */
  static removeStale(): number {
    let killed = 0;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const owner = new RegExp(`/${LAB_DIR_PREFIX}(\\d+)-`).exec(readFileSync(`/proc/${name}/cmdline`, 'utf8'))?.[1];
        if (owner && !pidAlive(Number(owner))) {
          process.kill(Number(name), 'SIGKILL');
          killed++;
        }
      } catch {
        // gone, or not ours to read
      }
    }
    removeStaleTempDirs(LAB_DIR_PREFIX);
    return killed;
  }

  static async create(): Promise<BootLab> {
    BootLab.removeStale();
    const netlab = await NetLab.create();
    const tmp = tempDir(`${LAB_DIR_PREFIX}${process.pid}-`);
    const lab = new BootLab(netlab, tmp);
    try {
      mkdirSync(lab.dataDir);
      mkdirSync(lab.imagesDir);
      await netlab.addSwitch('lan');
      await netlab.addHost('srv', 'lan', { ifname: 'eth0', mac: '02:00:00:00:01:01', cidr: `${lab.serverIp}/24` });
      lab.forwarder = createServer((client) => {
        let upstream: Socket;
        try {
          upstream = tcpConnectInNamespace(netlab, 'srv', '127.0.0.1', HTTP_PORT);
        } catch {
          client.destroy();
          return;
        }
        for (const s of [client, upstream]) {
          lab.sockets.add(s);
          s.once('close', () => lab.sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
      });
      await new Promise<void>((resolve) => lab.forwarder!.listen(0, '127.0.0.1', resolve));
      const address = lab.forwarder.address();
      lab.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
      return lab;
    } catch (error) {
      await lab.close();
      throw error;
    }
  }

  /** A Pi interface `pi<n>` with this MAC in the Pis' namespace; returns its name. */
  async addPi(mac: string): Promise<string> {
    const ifname = `pi${this.piCount++}`;
    await this.netlab.addHost('pis', 'lan', { ifname, mac, cidr: null });
    return ifname;
  }

  /** Starts dnsmasq on the router host as the LAN's DHCP server (addresses .100-.199, no boot info). */
  async startRouter(): Promise<void> {
    await this.netlab.addHost('router', 'lan', { ifname: 'eth0', mac: '02:00:00:00:02:54', cidr: `${this.routerIp}/24` });
    const base = path.join(this.tmp.dir, 'router');
    this.router = this.netlab.spawn('router', 'setpriv', [
      '--pdeathsig',
      'KILL',
      'dnsmasq',
      '--no-daemon',
      '--port=0',
      '--conf-file=/dev/null',
      '--interface=eth0',
      '--bind-interfaces',
      '--user=root',
      `--pid-file=${base}.pid`,
      `--dhcp-leasefile=${base}.leases`,
      `--dhcp-range=${this.netlab.ip(100)},${this.netlab.ip(199)},255.255.255.0,1h`,
      `--dhcp-option=option:router,${this.routerIp}`,
      '--no-ping',
      '--log-dhcp',
      '--log-facility=-',
    ]);
    let text = '';
    this.router.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    this.router.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!/DHCP, /.test(text)) {
      if (this.router.exitCode !== null || Date.now() > deadline) throw new Error(`dnsmasq did not start: ${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops the router's dnsmasq (a rival DHCP server once bramble is back in full mode). */
  async stopRouter(): Promise<void> {
    if (!this.router) return;
    this.router.kill('SIGKILL');
    await waitForExit(this.router, 5000);
    this.router = null;
  }

  /** Starts bramble (every built-in plugin) in srv and waits for /health. */
  async start(env: Record<string, string> = {}): Promise<void> {
    if (this.bramble) throw new Error('bramble is already running');
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BRAMBLE_'))) as Record<string, string>;
    this.log = '';
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.netlab.ns('srv'),
        'unshare',
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        'mount -t tmpfs -o mode=0755 tmpfs /run && exec setpriv --pdeathsig KILL "$@"',
        'sh',
        process.execPath,
        path.join(repoRoot(), 'dist', 'src', 'main.js'),
      ],
      {
        cwd: repoRoot(),
        env: {
          ...clean,
          BRAMBLE_DATA_DIR: this.dataDir,
          BRAMBLE_IMAGES_DIR: this.imagesDir,
          BRAMBLE_HTTP_HOST: '127.0.0.1',
          BRAMBLE_HTTP_PORT: String(HTTP_PORT),
          BRAMBLE_ADMIN_TOKEN: ADMIN_TOKEN,
          BRAMBLE_INTERFACE: 'eth0',
          BRAMBLE_SERVER_IP: this.serverIp,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.bramble = child;
    child.stdout!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-200_000)));
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-200_000)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`bramble exited while starting:\n${this.log.slice(-5000)}`);
      if (!this.brambleMountNs) {
        try {
          // `ip netns exec`, `unshare` and `setpriv` exec: the pid is node's once it runs (and only
          // then is it in its final mount namespace: `ip netns exec` makes one of its own first).
          if (readlinkSync(`/proc/${child.pid}/exe`) === process.execPath) this.brambleMountNs = readlinkSync(`/proc/${child.pid}/ns/mnt`);
        } catch {
          // not there yet
        }
      }
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`bramble: no /health within 60 s:\n${this.log.slice(-5000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // Home folders inside the lab, never the host's /srv/bramble/homes (the NFS plugin's default).
    mkdirSync(this.homesDir, { recursive: true });
    await this.ok('mutation ($v: JSON!) { updatePluginSettings(plugin: "nfs", values: $v) { name } }', { v: { homesPath: this.homesDir } });
  }

  output(): string {
    return this.log;
  }

  /** SIGKILL (no shutdown at all), then what is left in its mount namespace. */
  async kill(): Promise<void> {
    await this.stopWith('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.stopWith('SIGTERM');
  }

  private async stopWith(signal: NodeJS.Signals): Promise<void> {
    for (const c of this.clients.splice(0)) await c.dispose();
    const child = this.bramble;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await waitForExit(child, 15_000);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await waitForExit(child, 5000);
    }
    this.bramble = null;
    for (const s of this.sockets) s.destroy();
    this.leftovers += this.killMountNs();
  }

  private killMountNs(): number {
    if (!this.brambleMountNs) return 0;
    let killed = 0;
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        if (readlinkSync(`/proc/${name}/ns/mnt`) === this.brambleMountNs) {
          process.kill(Number(name), 'SIGKILL');
          killed++;
        }
      } catch {
        // gone
      }
    }
    this.brambleMountNs = null;
    return killed;
  }

  async gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<GqlResult<T>> {
    const res = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as GqlResult<T>;
  }

  /** gql() that throws on any error. */
  async ok<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const r = await this.gql<T>(query, variables);
    if (r.errors?.length || !r.data) throw new Error(`GraphQL error: ${JSON.stringify(r.errors)}\n${query}`);
    return r.data;
  }

  /** A graphql-ws client on the forwarded port (disposed by stop/kill/close). */
  ws(): Client {
    const client = createClient({
      url: `${this.url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      lazy: false,
      retryAttempts: 0,
    });
    this.clients.push(client);
    return client;
  }

  /** The audit log as NDJSON lines. */
  async audit(): Promise<Record<string, any>[]> {
    const res = await fetch(`${this.url}/audit/export.ndjson`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    if (res.status !== 200) throw new Error(`audit export: HTTP ${res.status}`);
    return (await res.text())
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, any>);
  }

  async close(): Promise<void> {
    await this.stop().catch(() => undefined);
    await this.stopRouter();
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => (this.forwarder ? this.forwarder.close(r) : r(null)));
    await this.netlab.destroy();
    this.tmp.cleanup();
  }
}
