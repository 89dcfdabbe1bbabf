/**
 * A QEMU virtual PC on a lab switch, booting from the network with its iPXE ROM, and its serial
 * console driven by the test: the client of the "real OS boots from bramble" test
 * (test/e2e/vm-boot.e2e.spec.ts). Debian's qemu-system-x86 + ipxe-qemu; nothing of ours runs in
 * the VM.
 *
 * The VM (docs/test-lab.md "A real operating system booting in a virtual machine"):
 * - `-accel tcg -M q35 -smp 1 -m 1024 -nodefaults`: /dev/kvm here cannot run the firmware (it fails
 *   in the iPXE ROM), one vCPU beats two on two shared cores, and no default devices means no VGA,
 *   no disk, no second NIC to try first.
 * - its NIC is virtio-net-pci with QEMU's default ROM (ipxe-qemu's efi-virtio.rom, whose legacy
 *   part SeaBIOS runs), on a tap device created in the lab's switch namespace and enslaved to the
 *   lab bridge; QEMU runs in that namespace (`ip netns exec`), so the tap never exists in the root
 *   namespace. `-boot order=n`, `-no-reboot` (a panic or a reboot ends the VM instead of booting
 *   again).
 * - the serial port is a Unix socket QEMU listens on with `wait=on`: QEMU does not start the guest
 *   until the test has connected, so no byte of the console is lost and "time since QEMU start" is
 *   measured from the moment the guest runs. Everything is also written to `console.log`.
 *
 * Every wait is bounded, and so is the VM's whole life (`lifetimeMs`, default 5 minutes: then it is
 * killed whatever the test does). `stop()` kills QEMU and removes the tap; call it in `after`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { waitForExit } from './netlab';

const execFileP = promisify(execFile);

export const QEMU = 'qemu-system-x86_64';

/** Why a VM cannot run here, or null. */
export function qemuUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'the VM test needs root (tap devices in a namespace)';
  for (const file of [`/usr/bin/${QEMU}`, '/usr/lib/ipxe/qemu/efi-virtio.rom', '/usr/share/seabios/bios-256k.bin']) {
    if (!existsSync(file)) return `${file} is missing (qemu-system-x86, ipxe-qemu: scripts/ensure-test-deps.sh)`;
  }
  return null;
}

export interface QemuVmOptions {
  /** The network namespace holding `bridge` (a NetLab's switch namespace: `lab.ns('switch')`). */
  netns: string;
  bridge: string;
  /** Tap device name (≤ 15 characters), unique in that namespace. */
  tap: string;
  mac: string;
  /** Folder for console.log and the console socket (the caller's temp folder). */
  dir: string;
  memoryMb?: number;
  /** Hard bound on the VM's life. */
  lifetimeMs?: number;
}

export interface ConsoleMatch {
  /** The first match. */
  match: RegExpExecArray;
  /** ms since the guest started. */
  atMs: number;
}

export class QemuVm {
  private output = '';
  /** Where the next waitFor() starts looking (so each wait sees new output only). */
  private cursor = 0;
  private readonly listeners = new Set<() => void>();
  private killTimer: NodeJS.Timeout | null = null;
  private exited = false;
  /** performance.now() when the guest started running (the console connected). */
  startedAt = 0;

  private constructor(
    private readonly options: Required<QemuVmOptions>,
    readonly child: ChildProcess,
    private socket: Socket | null = null,
  ) {
    child.once('exit', () => {
      this.exited = true;
      this.notify();
    });
  }

  get consoleLog(): string {
    return path.join(this.options.dir, 'console.log');
  }

  /** Everything the console printed so far. */
  get text(): string {
    return this.output;
  }

  /** The QEMU command line for these options (pure, for a test to check and a reader to copy). */
  static args(o: Pick<QemuVmOptions, 'tap' | 'mac' | 'memoryMb'>, consoleSocket: string): string[] {
    return [
      '-accel',
      'tcg',
      '-M',
      'q35',
      '-smp',
      '1',
      '-m',
      String(o.memoryMb ?? 1024),
      '-nodefaults',
      '-display',
      'none',
      '-no-reboot',
      '-boot',
      'order=n',
      '-netdev',
      `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
      '-device',
      `virtio-net-pci,netdev=n0,mac=${o.mac}`,
      // SeaBIOS's serial console: with no VGA it then shows its own and the iPXE ROM's output
      // (int 10h) on the serial port too (the fw_cfg file is the port, 0x3f8, little-endian).
      '-fw_cfg',
      `name=etc/sercon-port,file=${path.join(path.dirname(consoleSocket), 'sercon-port')}`,
      '-chardev',
      `socket,id=s0,path=${consoleSocket},server=on,wait=on`,
      '-serial',
      'chardev:s0',
    ];
  }

  /** Creates the tap on the bridge, starts QEMU and connects to its console (the guest then runs). */
  static async start(options: QemuVmOptions): Promise<QemuVm> {
    const o: Required<QemuVmOptions> = { memoryMb: 1024, lifetimeMs: 5 * 60_000, ...options };
    const ip = (args: string[]) => execFileP('ip', ['-n', o.netns, ...args]);
    await ip(['tuntap', 'add', 'dev', o.tap, 'mode', 'tap']);
    try {
      await ip(['link', 'set', o.tap, 'master', o.bridge]);
      await ip(['link', 'set', o.tap, 'up']);
    } catch (error) {
      await ip(['link', 'del', o.tap]).catch(() => undefined);
      throw error;
    }
    const sock = path.join(o.dir, 'console.sock');
    writeFileSync(path.join(o.dir, 'sercon-port'), Buffer.from([0xf8, 0x03, 0, 0, 0, 0, 0, 0]));
    const child = spawn('ip', ['netns', 'exec', o.netns, QEMU, ...QemuVm.args(o, sock)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const vm = new QemuVm(o, child);
    let qemuOutput = '';
    child.stdout!.on('data', (d: Buffer) => (qemuOutput += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (qemuOutput += d.toString()));
    vm.killTimer = setTimeout(() => child.kill('SIGKILL'), o.lifetimeMs);
    try {
      vm.socket = await connectWhenListening(sock, child, 15_000, () => qemuOutput);
    } catch (error) {
      await vm.stop();
      throw error;
    }
    vm.startedAt = performance.now();
    vm.socket.on('data', (d: Buffer) => {
      const text = d.toString('latin1');
      vm.output += text;
      appendFileSync(vm.consoleLog, d);
      vm.notify();
    });
    vm.socket.on('error', () => undefined);
    return vm;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** ms since the guest started. */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /**
   * Waits for `pattern` in the console output after the previous wait's match (or anywhere, with
   * `fromStart`); fails after `timeoutMs`, at once when QEMU exits or `failOn` appears first, with
   * the console's tail.
   */
  waitFor(pattern: RegExp, timeoutMs: number, options: { fromStart?: boolean; failOn?: RegExp } = {}): Promise<ConsoleMatch> {
    const from = options.fromStart ? 0 : this.cursor;
    const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    const fail = options.failOn ? new RegExp(options.failOn.source, options.failOn.flags.replace('g', '')) : null;
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(this.output.slice(from));
        const bad = m ? null : fail?.exec(this.output.slice(from));
        if (bad) {
          done();
          reject(new Error(`the console printed ${JSON.stringify(bad[0])} before ${pattern}; console tail:\n${this.tail()}`));
        } else if (m) {
          done();
          this.cursor = from + m.index + m[0].length;
          resolve({ match: m, atMs: this.elapsedMs() });
        } else if (this.exited) {
          done();
          reject(new Error(`QEMU exited before ${pattern} appeared; console tail:\n${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no ${pattern} on the console within ${timeoutMs} ms; console tail:\n${this.tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** The last `chars` of the console, for failure messages. */
  tail(chars = 3000): string {
    return this.output.slice(-chars);
  }

  /** Types on the serial console (a terminal sends CR for Enter). */
  type(text: string): void {
    this.socket?.write(text.replace(/\n/g, '\r'));
  }

  /**
   * Logs in at the getty prompt: waits for `login:`, types the user, waits for `Password:`, types
   * the password, and resolves at the shell's prompt with the time it took. The password is typed,
   * never logged (getty does not echo it).
   */
  async login(username: string, password: string, timeoutMs: number): Promise<{ promptAtMs: number; shellAtMs: number }> {
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const prompt = await this.waitFor(/ login: /, left());
    this.type(`${username}\n`);
    await this.waitFor(/Password: /, left());
    this.type(`${password}\n`);
    // A failed login prints "Login incorrect" and a new prompt: fail fast on it.
    const shell = await Promise.race([
      this.waitFor(/[$#] $/m, left()),
      this.waitFor(/Login incorrect/, left()).then(() => {
        throw new Error(`login as ${username} was refused; console tail:\n${this.tail()}`);
      }),
    ]);
    return { promptAtMs: prompt.atMs, shellAtMs: shell.atMs };
  }

  /**
   * Runs a shell command line in the logged-in shell and returns what it printed. The output is
   * framed by markers the echo of the typed line cannot match (`__B""EGIN__` is typed,
   * `__BEGIN__` printed).
   */
  async run(command: string, timeoutMs: number): Promise<string> {
    const n = Math.floor(Math.random() * 1e9);
    this.type(`echo __B""EGIN${n}__; ${command}; echo __E""ND${n}__\n`);
    const begin = await this.waitFor(new RegExp(`__BEGIN${n}__\\r?\\n`), timeoutMs);
    const startAt = this.cursor;
    void begin;
    await this.waitFor(new RegExp(`__END${n}__`), timeoutMs);
    const text = this.output.slice(startAt, this.cursor - `__END${n}__`.length);
    return text.replace(/\r/g, '');
  }

  /** Kills QEMU (it has nothing to save) and removes the tap. Idempotent. */
  async stop(): Promise<void> {
    if (this.killTimer) clearTimeout(this.killTimer);
    this.socket?.destroy();
    if (!this.exited && this.child.exitCode === null) this.child.kill('SIGKILL');
    await waitForExit(this.child, 5000);
    // For a person reading a failed run: BRAMBLE_TEST_VM_CONSOLE=/some/file keeps the console.
    const keep = process.env.BRAMBLE_TEST_VM_CONSOLE;
    if (keep && existsSync(this.consoleLog)) copyFileSync(this.consoleLog, keep);
    await execFileP('ip', ['-n', this.options.netns, 'link', 'del', this.options.tap]).catch(() => undefined);
  }
}

/** Connects to QEMU's console socket once it listens (bounded), failing if QEMU exits first. */
async function connectWhenListening(sock: string, child: ChildProcess, timeoutMs: number, qemuOutput: () => string): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`QEMU exited at start:\n${qemuOutput()}`);
    if (existsSync(sock)) {
      try {
        return await new Promise<Socket>((resolve, reject) => {
          const s = connect(sock);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
      } catch {
        // not accepting yet
      }
    }
    if (Date.now() > deadline) throw new Error(`QEMU's console socket did not open within ${timeoutMs} ms:\n${qemuOutput()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
