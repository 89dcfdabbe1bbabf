/**
 * Boot storm: N emulated Pi 4s power on at the same instant and run the firmware stage — DHCP
 * (DISCOVER, the router's and the proxy's OFFERs, REQUEST, the router's ACK) then the full TFTP
 * boot set (15 files, 16.9 MB, blksize 1024, each after the firmware's size probe, every block
 * checked) — against bramble (DHCP proxy mode + TFTP, in-process) and against dnsmasq (proxy DHCP
 * + TFTP, as PiServer ran it) serving identical files, same lab, same run (support/storm-lab.ts).
 * The Pis are simulated by bench/support/tftp-pi-sim.ts (with its DHCP step, pi-sim-dhcp.ts), one
 * process per client host driving many Pis from one epoll loop: the project's Pi emulator
 * (tools/pi-emulator) was not on main when this was written, and on 2 cores a client that costs
 * little CPU per packet matters (bench/tftp.bench.ts: the kernel's packet cost dominates).
 *
 * Per server and round: seconds from power-on to the last Pi's last file, Pis that failed (no
 * DHCP within the firmware's 45 s, or a file that failed after the firmware's retries), and per
 * Pi the time from power-on to its last file (p50/p99) and to its DHCP ACK. Servers alternate
 * across rounds (round 1 bramble first, round 2 dnsmasq first, ...); medians are printed, and the
 * ratio is bramble's time / dnsmasq's per round (median). Each run also notes when the median Pi
 * finished each file, which shows whether a server loses its time in the large files' blocks or
 * in the requests of the small ones:
 *
 *   storm.<server>.n<N> seconds= (median) seconds_rounds= failed_pis= (sum over rounds)
 *     pi_p50_ms= pi_p99_ms= dhcp_p50_ms= dhcp_p99_ms= (the median round's) resends=
 *   storm.ratio.n<N> bramble_over_dnsmasq= (median) rounds=
 *
 * Targets (issue 11): N = 100: zero failures and total time <= 1.0x dnsmasq's; N = 500: zero
 * failures (time reported).
 *
 * Run (root): node <build>/bench/boot-storm.bench.js   BRAMBLE_BENCH_PIS=100,500 (default 100);
 * BRAMBLE_BENCH_ROUNDS=<n> (default 2); BRAMBLE_BENCH_SERVERS=bramble,dnsmasq; BRAMBLE_BENCH_DIR
 * (default ./.bench-tmp). N = 100 takes about a minute a run here; N = 500 several minutes.
 */
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { canUseNetns } from '../test/support/netlab';
import { note, print } from './support/report';
import {
  createStormLab,
  runStorm,
  startBramble,
  startDnsmasq,
  startRouter,
  type StormLab,
  type StormRun,
  type StormServer,
} from './support/storm-lab';

type ServerName = 'bramble' | 'dnsmasq';

function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * p) - 1)];
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

async function oneRun(sl: StormLab, name: ServerName, limitMs: number): Promise<StormRun> {
  const router = await startRouter(sl);
  let server: StormServer | null = null;
  try {
    server = name === 'bramble' ? await startBramble(sl) : await startDnsmasq(sl);
    return await runStorm(sl, { limitMs });
  } finally {
    await server?.stop();
    await router.stop();
  }
}

function summary(r: StormRun): string {
  return `${r.seconds.toFixed(1)} s, ${r.piMs.length} Pis done, ${r.failedPis} failed (${r.failedFiles} files), per Pi p50 ${percentile(r.piMs, 0.5)} p99 ${percentile(r.piMs, 0.99)} ms, DHCP p50 ${percentile(r.dhcpMs, 0.5)} p99 ${percentile(r.dhcpMs, 0.99)} ms, ${r.resends} resends, clients ${Math.round(r.clientCpuMs)} ms CPU`;
}

/** Where the time goes: when the median Pi finished each file of the boot set, in order. */
function phases(r: StormRun): string {
  return r.fileMs.map((ms) => ((percentile(ms, 0.5) ?? NaN) / 1000).toFixed(2)).join(' ');
}

/** How long each file took the median Pi, from its first request for it to its last block (ms). */
function spans(r: StormRun): string {
  return r.fileSpanMs.map((ms) => (percentile(ms, 0.5) ?? NaN).toFixed(0)).join(' ');
}

async function main(): Promise<void> {
  const skip = canUseNetns();
  if (skip) {
    note(`skipped: ${skip}`);
    return;
  }
  const dir = process.env.BRAMBLE_BENCH_DIR ?? path.join(process.cwd(), '.bench-tmp');
  const sizes = (process.env.BRAMBLE_BENCH_PIS ?? '100').split(',').map(Number);
  const rounds = Number(process.env.BRAMBLE_BENCH_ROUNDS ?? 2);
  const servers = (process.env.BRAMBLE_BENCH_SERVERS ?? 'bramble,dnsmasq').split(',').map((s) => s.trim()) as ServerName[];
  const benchStart = performance.now();
  try {
    for (const n of sizes) {
      const hosts = Math.max(2, Math.min(4, Math.ceil(n / 125)));
      const sl = await createStormLab({ pis: n, hosts, dir });
      note(
        `N=${n}: ${hosts} client hosts, boot set ${sl.files.length} files, ${sl.bootSetBytes} bytes a Pi; server ${sl.serverIp}, router ${sl.routerIp}`,
      );
      // A generous bound: at 10 MB/s for the whole LAN, plus the firmware's 45 s of DHCP.
      const limitMs = Math.max(120_000, Math.round((n * sl.bootSetBytes) / 10_000)) + 45_000;
      const results = new Map<ServerName, StormRun[]>(servers.map((s) => [s, []]));
      try {
        for (let round = 1; round <= rounds; round++) {
          const order = round % 2 ? servers : [...servers].reverse();
          for (const name of order) {
            const r = await oneRun(sl, name, limitMs);
            note(`N=${n} round ${round} ${name}: ${summary(r)}`);
            note(`  per file, the median Pi's seconds from power-on to its last block: ${phases(r)}`);
            note(`  per file, the median Pi's ms from its first request to its last block: ${spans(r)}`);
            note(
              `  request to OACK: p50 ${percentile(r.oackMs, 0.5)?.toFixed(1)} p90 ${percentile(r.oackMs, 0.9)?.toFixed(1)} p99 ${percentile(r.oackMs, 0.99)?.toFixed(1)} ms over ${r.oackMs.length} requests`,
            );
            for (const f of r.failures.slice(0, 5)) note(`  failure: ${f}`);
            results.get(name)!.push(r);
          }
        }
      } finally {
        await sl.close();
      }
      for (const name of servers) {
        const runs = results.get(name)!;
        const byTime = [...runs].sort((a, b) => a.seconds - b.seconds);
        const mid = byTime[Math.floor((byTime.length - 1) / 2)];
        print(`storm.${name}.n${n}`, {
          seconds: median(runs.map((r) => r.seconds)),
          seconds_rounds: runs.map((r) => r.seconds.toFixed(1)).join('/'),
          failed_pis: runs.reduce((s, r) => s + r.failedPis, 0),
          pi_p50_ms: percentile(mid.piMs, 0.5),
          pi_p99_ms: percentile(mid.piMs, 0.99),
          dhcp_p50_ms: percentile(mid.dhcpMs, 0.5),
          dhcp_p99_ms: percentile(mid.dhcpMs, 0.99),
          resends: mid.resends,
        });
      }
      const b = results.get('bramble');
      const d = results.get('dnsmasq');
      if (b && d) {
        const ratios = b.map((r, i) => r.seconds / d[i].seconds);
        print(`storm.ratio.n${n}`, { bramble_over_dnsmasq: median(ratios), rounds: ratios.map((x) => x.toFixed(2)).join('/') });
      }
    }
  } finally {
    note(`bench took ${((performance.now() - benchStart) / 1000).toFixed(0)} s`);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exitCode = 1;
});
