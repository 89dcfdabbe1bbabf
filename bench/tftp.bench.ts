/**
 * TFTP: bramble's TFTP plugin against dnsmasq (what PiServer ran) and, where windowsize applies,
 * atftpd, same topology, same run. bramble runs in-process with its sockets in the `srv` host of a
 * NetLab (test/support/tftp-lab.ts); the servers take turns on srv's udp/69 (bramble's plugin is
 * moved to an unused port while a reference server runs, see support/tftp-bench-lab.ts) and serve
 * the same bytes (bramble from the image's boot folder, the others from a copy). Every client is
 * an approved Pi for bramble and asks unprefixed names, so the same request works everywhere.
 *
 * Each measurement runs 3 times, servers alternating (round 1 bramble first, round 2 last, ...), and
 * the median is printed: the machine is shared and noisy. One line per figure:
 *
 *   tftp.single   one 50 MiB transfer, blksize 1468, curl from one Pi: seconds (curl's time_total)
 *                 and MiB/s per server; ratio = bramble's throughput / dnsmasq's (target >= 1.0).
 *   tftp.pi4_boot 50 simulated Pi 4 bootloaders (support/tftp-pi-sim.ts: one node process per client
 *                 host, several Pi addresses per host), each reading 15 files (~16.9 MB: start4.elf,
 *                 kernel8.img, initramfs8, the dtb, overlays...) one after the other at blksize 1024,
 *                 each preceded by the firmware's size probe (RRQ tsize 0 → OACK → ERROR 0), every
 *                 block checked against the expected bytes, ACKs resent after 1 s like the firmware.
 *                 Seconds from the common start to the last Pi's last file; ratio = bramble's time /
 *                 dnsmasq's (target <= 0.8, zero failed transfers).
 *   tftp.pi4_boot.cpu  CPU ms during those runs (medians): bramble = process.cpuUsage() of this
 *                 process, i.e. bramble's main thread (requests, boot-fact events to the event
 *                 store), its transfer worker, GC and libuv threads, and this bench waiting for the
 *                 simulators (negligible); split into main thread and other threads from
 *                 /proc/self/task; dnsmasq = /proc/<pid>/stat utime+stime; clients = the simulator
 *                 processes' own process.cpuUsage().
 *   tftp.window   the 50 MiB file with atftp at blksize 1468, windowsize 16 against windowsize 1
 *                 (wall time of the atftp process), against bramble and against atftpd; ratio =
 *                 bramble's ws1 time / ws16 time (target >= 3).
 *   tftp.targets  single=<ratio> pi4_boot=<ratio> window=<ratio> failed=<failed transfers
 *                 against bramble, all figures>
 *
 * Run (root): node <build>/bench/tftp.bench.js
 *   BRAMBLE_BENCH_FIGURES=single,pi4_boot,window  picks figures; BRAMBLE_BENCH_ROUNDS=<n> (3);
 *   BRAMBLE_BENCH_PIS=<n> (50) and BRAMBLE_BENCH_HOSTS=<n> (2, client hosts = simulator processes);
 *   BRAMBLE_BENCH_SERVERS=bramble,dnsmasq,atftpd picks servers; BRAMBLE_BENCH_SIM=dgram runs the
 *   simulated Pis on node:dgram instead of an epoll loop (the first simulator; see tftp-pi-sim.ts).
 * atftpd is optional (not a test dependency: its package enables a systemd socket on udp/69); when
 * it is missing a line says so and its columns print n/a.
 */
import { performance } from 'node:perf_hooks';
import { readdirSync } from 'node:fs';
import { canUseNetns } from '../test/support/netlab';
import {
  atftpdUnavailable,
  BIG_BYTES,
  BIG_FILE,
  createTftpBenchLab,
  parkBramble,
  PI4_BOOT_SET,
  processCpuMs,
  runPiSims,
  startAtftpd,
  startBramble,
  startDnsmasq,
  type ServerUnderTest,
  type TftpBenchLab,
} from './support/tftp-bench-lab';
import { print, note } from './support/report';

const MIB = 1024 * 1024;
/** Each pi4_boot run is stopped after this long (the whole bench must stay within ~8 minutes). */
const PI4_LIMIT_MS = 60_000;

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : a / b;
}

/** CPU ms of this process's main thread and of all its other threads (worker, GC, libuv), so far. */
function threadCpuMs(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ms = processCpuMs(Number(tid), `/proc/self/task/${tid}/stat`);
      if (Number(tid) === process.pid) main = ms;
      else others += ms;
    } catch {
      // thread gone
    }
  }
  return { main, others };
}

async function curlSingle(bl: TftpBenchLab): Promise<{ seconds: number; ok: boolean }> {
  const { stdout } = await bl.tftp.exec(
    'pi0',
    'curl',
    ['-s', '-o', '/dev/null', '-w', '%{time_total} %{size_download}', '--tftp-blksize', '1468', `tftp://${bl.serverIp}/${BIG_FILE}`],
    { timeoutMs: 120_000 },
  );
  const [t, size] = stdout.trim().split(' ').map(Number);
  return { seconds: t, ok: size === BIG_BYTES };
}

async function atftpGet(bl: TftpBenchLab, windowSize: number): Promise<{ seconds: number; ok: boolean }> {
  const t0 = performance.now();
  try {
    const { stdout, stderr } = await bl.tftp.exec(
      'pi0',
      'atftp',
      ['--option', `windowsize ${windowSize}`, '--option', 'blksize 1468', '-g', '-r', BIG_FILE, '-l', '/dev/null', bl.serverIp],
      { timeoutMs: 120_000 },
    );
    const seconds = (performance.now() - t0) / 1000;
    const text = `${stdout}${stderr}`.trim();
    const ok = !/error|abort|timeout|fail/i.test(text);
    if (!ok) note(`  atftp said: ${text.slice(0, 300)}`);
    return { seconds, ok };
  } catch (error) {
    note(`  atftp failed: ${(error as Error).message.slice(0, 300)}`);
    return { seconds: (performance.now() - t0) / 1000, ok: false };
  }
}

interface Pi4Sample {
  seconds: number;
  failed: number;
  resends: number;
  serverCpuMs: number;
  mainMs: number | null;
  othersMs: number | null;
  clientCpuMs: number;
}

async function main(): Promise<void> {
  const skip = canUseNetns();
  if (skip) {
    note(`skipped: ${skip}`);
    return;
  }
  const simIo = process.env.BRAMBLE_BENCH_SIM === 'dgram' ? 'dgram' : 'libc';
  const figures = new Set((process.env.BRAMBLE_BENCH_FIGURES ?? 'single,pi4_boot,window').split(',').map((s) => s.trim()));
  const rounds = Number(process.env.BRAMBLE_BENCH_ROUNDS ?? 3);
  const piCount = Number(process.env.BRAMBLE_BENCH_PIS ?? 50);
  const hostCount = Number(process.env.BRAMBLE_BENCH_HOSTS ?? 2);
  let servers = (process.env.BRAMBLE_BENCH_SERVERS ?? 'bramble,dnsmasq,atftpd').split(',').map((s) => s.trim());
  const noAtftpd = atftpdUnavailable();
  if (noAtftpd && servers.includes('atftpd')) {
    print('tftp.atftpd', { status: 'missing', install: 'apt-get install atftpd' });
    note(`${noAtftpd}: atftpd columns print n/a`);
    servers = servers.filter((s) => s !== 'atftpd');
  }
  const benchStart = performance.now();
  const bl = await createTftpBenchLab({ pis: piCount, hosts: hostCount });
  const files = PI4_BOOT_SET.map((f) => f.file);
  note(
    `lab: server ${bl.serverIp}, stock client ${bl.pi0.ip}, ${piCount} simulated Pis on ${hostCount} client hosts, boot set ${files.length} files ${(bl.bootSetBytes / 1e6).toFixed(2)} MB per Pi`,
  );
  const single = new Map<string, number[]>();
  const window = new Map<string, number[]>(); // `${server}.ws${n}`
  const pi4 = new Map<string, Pi4Sample[]>();
  let brambleFailed = 0;
  const push = <T>(m: Map<string, T[]>, k: string, v: T): void => {
    m.set(k, [...(m.get(k) ?? []), v]);
  };
  try {
    // bramble's lab starts on udp/69: park it (and wait until it has let go: two settings changes
    // in quick succession race in the plugin and can leave an orphaned listener on udp/69);
    // startBramble() brings it back for its turns.
    await parkBramble(bl);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? servers : [...servers].reverse();
      for (const name of order) {
        let server: ServerUnderTest;
        if (name === 'bramble') server = await startBramble(bl);
        else if (name === 'dnsmasq') server = await startDnsmasq(bl);
        else if (name === 'atftpd') server = await startAtftpd(bl);
        else throw new Error(`unknown server ${name} (bramble, dnsmasq, atftpd)`);
        try {
          if (figures.has('single')) {
            const r = await curlSingle(bl);
            note(`round ${round + 1} ${name} single: ${r.seconds.toFixed(3)} s ${r.ok ? '' : 'FAILED (size)'}`);
            if (r.ok) push(single, name, r.seconds);
            else if (name === 'bramble') brambleFailed++;
          }
          if (figures.has('window') && name !== 'dnsmasq') {
            // dnsmasq does not implement windowsize (RFC 7440).
            for (const ws of round % 2 === 0 ? [1, 16] : [16, 1]) {
              const r = await atftpGet(bl, ws);
              note(`round ${round + 1} ${name} windowsize ${ws}: ${r.seconds.toFixed(3)} s ${r.ok ? '' : 'FAILED'}`);
              if (r.ok) push(window, `${name}.ws${ws}`, r.seconds);
              else if (name === 'bramble') brambleFailed++;
            }
          }
          if (figures.has('pi4_boot') && name !== 'atftpd') {
            const cpu0 = server.cpuMs();
            const threads0 = name === 'bramble' ? threadCpuMs() : null;
            const run = await runPiSims(bl, { blksize: 1024, files, limitMs: PI4_LIMIT_MS, io: simIo });
            const threads1 = name === 'bramble' ? threadCpuMs() : null;
            const sample: Pi4Sample = {
              seconds: run.seconds,
              failed: run.failed + (run.files - run.completed - run.failed),
              resends: run.resends,
              serverCpuMs: server.cpuMs() - cpu0,
              mainMs: threads0 && threads1 ? threads1.main - threads0.main : null,
              othersMs: threads0 && threads1 ? threads1.others - threads0.others : null,
              clientCpuMs: run.clientCpuMs,
            };
            push(pi4, name, sample);
            if (name === 'bramble') brambleFailed += sample.failed;
            note(
              `round ${round + 1} ${name} pi4_boot: ${run.seconds.toFixed(3)} s, ${run.completed}/${run.files} files, ${sample.failed} failed, ${run.resends} resends, server cpu ${sample.serverCpuMs.toFixed(0)} ms, clients cpu ${run.clientCpuMs.toFixed(0)} ms`,
            );
            for (const f of run.failures.slice(0, 5)) note(`  failure: ${f}`);
          }
        } finally {
          await server.stop();
        }
      }
    }

    let singleRatio: number | null = null;
    if (figures.has('single')) {
      const s = (n: string): number | null => median(single.get(n) ?? []);
      const mibs = (n: string): number | null => {
        const t = s(n);
        return t === null ? null : BIG_BYTES / MIB / t;
      };
      singleRatio = ratio(mibs('bramble'), mibs('dnsmasq'));
      print('tftp.single', {
        mib: BIG_BYTES / MIB,
        blksize: 1468,
        runs: rounds,
        bramble_s: s('bramble'),
        bramble_mib_s: mibs('bramble'),
        dnsmasq_s: s('dnsmasq'),
        dnsmasq_mib_s: mibs('dnsmasq'),
        atftpd_s: s('atftpd'),
        atftpd_mib_s: mibs('atftpd'),
        ratio: singleRatio,
        ratio_atftpd: ratio(mibs('bramble'), mibs('atftpd')),
        target: '>=1.0',
        met: singleRatio === null ? 'n/a' : singleRatio >= 1 ? 'yes' : 'no',
      });
    }
    let pi4Ratio: number | null = null;
    if (figures.has('pi4_boot')) {
      const m = (n: string, f: (x: Pi4Sample) => number | null): number | null =>
        median((pi4.get(n) ?? []).map(f).filter((x): x is number => x !== null));
      const failed = (n: string): number | null => (pi4.has(n) ? pi4.get(n)!.reduce((a, x) => a + x.failed, 0) : null);
      pi4Ratio = ratio(
        m('bramble', (x) => x.seconds),
        m('dnsmasq', (x) => x.seconds),
      );
      print('tftp.pi4_boot', {
        clients: piCount,
        files: files.length,
        mb_per_client: bl.bootSetBytes / 1e6,
        blksize: 1024,
        runs: rounds,
        bramble_s: m('bramble', (x) => x.seconds),
        dnsmasq_s: m('dnsmasq', (x) => x.seconds),
        ratio: pi4Ratio,
        target: '<=0.8',
        met: pi4Ratio === null ? 'n/a' : pi4Ratio <= 0.8 && failed('bramble') === 0 ? 'yes' : 'no',
        bramble_failed: failed('bramble'),
        dnsmasq_failed: failed('dnsmasq'),
        bramble_resends: m('bramble', (x) => x.resends),
        dnsmasq_resends: m('dnsmasq', (x) => x.resends),
      });
      print('tftp.pi4_boot.cpu', {
        bramble_process_ms: m('bramble', (x) => x.serverCpuMs),
        bramble_main_thread_ms: m('bramble', (x) => x.mainMs),
        bramble_other_threads_ms: m('bramble', (x) => x.othersMs),
        dnsmasq_ms: m('dnsmasq', (x) => x.serverCpuMs),
        ratio: ratio(
          m('bramble', (x) => x.serverCpuMs),
          m('dnsmasq', (x) => x.serverCpuMs),
        ),
        clients_with_bramble_ms: m('bramble', (x) => x.clientCpuMs),
        clients_with_dnsmasq_ms: m('dnsmasq', (x) => x.clientCpuMs),
      });
    }
    let windowRatio: number | null = null;
    if (figures.has('window')) {
      const w = (k: string): number | null => median(window.get(k) ?? []);
      windowRatio = ratio(w('bramble.ws1'), w('bramble.ws16'));
      print('tftp.window', {
        mib: BIG_BYTES / MIB,
        blksize: 1468,
        runs: rounds,
        bramble_ws1_s: w('bramble.ws1'),
        bramble_ws16_s: w('bramble.ws16'),
        bramble_speedup: windowRatio,
        atftpd_ws1_s: w('atftpd.ws1'),
        atftpd_ws16_s: w('atftpd.ws16'),
        atftpd_speedup: ratio(w('atftpd.ws1'), w('atftpd.ws16')),
        target: '>=3',
        met: windowRatio === null ? 'n/a' : windowRatio >= 3 ? 'yes' : 'no',
      });
    }
    print('tftp.targets', { single: singleRatio, pi4_boot: pi4Ratio, window: windowRatio, failed: brambleFailed });
  } finally {
    await bl.close();
    note(`bench took ${((performance.now() - benchStart) / 1000).toFixed(0)} s`);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
