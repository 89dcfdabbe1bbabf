/**
 * The hostile-load scenario of the test (test/graphql/hostile-load.e2e.spec.ts) and the benchmark
 * (bench/hostile-load.bench.ts): bramble with its real DHCP plugin (full mode) serving a namespaced
 * LAN (dhcp-lab.ts), an audit log of some size, then for a while, all at once:
 *   - hostile GraphQL clients, in a child process (hostile-clients.ts);
 *   - a /health poller, in another child process;
 *   - perfdhcp (ISC Kea) in a LAN host, running full DORA exchanges for approved Pis at a modest
 *     rate, with per-exchange timestamps: the DHCP reply latency a real client sees;
 *   - bramble's event-loop delay (monitorEventLoopDelay, in this process: bramble's).
 * measure() gives the figures of one such window, with or without the hostile clients.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parsePerfdhcp, piMacs, type PerfdhcpRun } from '../../bench/support/dhcp-bench-lab';
import { ImportClientsCommand } from '../../src/core/commands/client.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { EVENT_STORE, type EventStore, type NewEvent } from '../../src/core/event-store/event-store.port';
import { TEST_TOKEN } from './core-app';
import { startDhcpLab, type DhcpLab } from './dhcp-lab';
import { runInChild, type HealthReport, type HostileReport } from './hostile-clients';

export interface LoadFigures {
  seconds: number;
  health: HealthReport;
  dhcp: {
    exchanges: number;
    drops: number;
    offerP50Ms: number | null;
    offerP99Ms: number | null;
    offerMaxMs: number | null;
    ackP50Ms: number | null;
    ackP99Ms: number | null;
    ackMaxMs: number | null;
  };
  loop: { p50Ms: number; p99Ms: number; maxMs: number };
  hostile: HostileReport | null;
}

export interface HostileLoadLab {
  lab: DhcpLab;
  url: string;
  token: string;
  /** Appends `count` BootProgressed events (not projected: they fill the audit log only). */
  seed(count: number): Promise<void>;
  measure(options: { seconds: number; hostileClients: number; dhcpRate: number; healthIntervalMs?: number }): Promise<LoadFigures>;
  close(): Promise<void>;
}

function dhcpFigures(run: PerfdhcpRun): LoadFigures['dhcp'] {
  return {
    exchanges: run.requestAck.received,
    drops: run.discoverOffer.drops + run.requestAck.drops,
    offerP50Ms: run.discoverOffer.p50Ms,
    offerP99Ms: run.discoverOffer.p99Ms,
    offerMaxMs: run.discoverOffer.maxMs,
    ackP50Ms: run.requestAck.p50Ms,
    ackP99Ms: run.requestAck.p99Ms,
    ackMaxMs: run.requestAck.maxMs,
  };
}

export async function startHostileLoadLab(options: { pis?: number } = {}): Promise<HostileLoadLab> {
  const pis = options.pis ?? 100;
  // The lab is a /24: the server .1, perfdhcp .2, the Pis' range from .10.
  if (pis > 220) throw new Error('at most 220 Pis in a hostile-load lab');
  const lab = await startDhcpLab();
  try {
    const macs = piMacs(pis);
    await lab.settings({
      mode: 'full',
      rangeStart: lab.ip(10),
      rangeEnd: lab.ip(10 + pis + 20),
      netmask: '255.255.255.0',
      leaseSeconds: 3600,
    });
    await lab.core.exec(
      new ImportClientsCommand({ csv: `mac,name\n${macs.map((m, i) => `${m},load-${i}`).join('\n')}\n` }, commandMeta('admin:test')),
    );
    // perfdhcp acts as a relay from its own address (replies come back to it on udp/67).
    await lab.addClient('cli', '02:00:00:00:02:02', { cidr: `${lab.ip(2)}/24` });
    const macFile = path.join(lab.tmp, 'macs.txt');
    writeFileSync(macFile, macs.join('\n') + '\n');
    const url = await lab.baseUrl();
    const store = lab.core.app.nest.get<EventStore>(EVENT_STORE);

    const perfdhcp = async (rate: number, seconds: number): Promise<PerfdhcpRun> => {
      const args = [
        '-4',
        '-l',
        'eth0',
        '-r',
        String(rate),
        '-R',
        String(macs.length),
        '-M',
        macFile,
        '-p',
        String(seconds),
        '-W',
        '1000000',
        '-x',
        't',
        lab.serverIp,
      ];
      let out: string;
      let exitCode: number | null = 0;
      try {
        const r = await lab.lab.exec('cli', 'perfdhcp', args, { timeoutMs: (seconds + 30) * 1000 });
        out = `${r.stdout}\n${r.stderr}`;
      } catch (error) {
        const e = error as { code?: number | string; stdout?: string; stderr?: string };
        exitCode = typeof e.code === 'number' ? e.code : null;
        // Exit status 3: some exchanges were not completed — a result, not a failure.
        if (exitCode !== 3) throw new Error(`perfdhcp failed (${String(e.code)}): ${e.stderr ?? ''}${e.stdout ?? ''}`);
        out = `${e.stdout ?? ''}\n${e.stderr ?? ''}`;
      }
      return parsePerfdhcp(out, rate, seconds, exitCode);
    };

    // Every Pi gets its lease now (a first ACK appends to the store; later ones renew).
    await perfdhcp(Math.max(50, pis), 2);

    return {
      lab,
      url,
      token: TEST_TOKEN,
      async seed(count) {
        const meta = {
          actor: 'plugin:tftp',
          correlationId: 'seed',
          causationId: null,
          timestamp: new Date().toISOString(),
          schemaVersion: 1,
        };
        const pending: Promise<unknown>[] = [];
        for (let i = 0; i < count; i += 100) {
          const mac = macs[(i / 100) % macs.length];
          const events: NewEvent[] = Array.from({ length: Math.min(100, count - i) }, (_, j) => ({
            type: 'BootProgressed',
            data: { mac, stage: 'tftp.file-served', plugin: 'tftp', ip: null, detail: { file: 'start4.elf', n: i + j } },
            metadata: meta,
          }));
          pending.push(store.append(`boot-${mac}`, events, 'any'));
          if (pending.length >= 50) await Promise.all(pending.splice(0));
        }
        await Promise.all(pending);
      },
      async measure({ seconds, hostileClients, dhcpRate, healthIntervalMs = 25 }) {
        const durationMs = seconds * 1000;
        const loop = monitorEventLoopDelay({ resolution: 1 });
        loop.enable();
        const [hostile, health, dhcp] = await Promise.all([
          hostileClients > 0
            ? runInChild({ mode: 'hostile', url, token: TEST_TOKEN, clients: hostileClients, durationMs })
            : Promise.resolve(null),
          runInChild({ mode: 'health', url, durationMs, intervalMs: healthIntervalMs }),
          perfdhcp(dhcpRate, seconds),
        ]);
        loop.disable();
        return {
          seconds,
          health,
          dhcp: dhcpFigures(dhcp),
          loop: { p50Ms: loop.percentile(50) / 1e6, p99Ms: loop.percentile(99) / 1e6, maxMs: loop.max / 1e6 },
          hostile,
        };
      },
      close: () => lab.close(),
    };
  } catch (error) {
    await lab.close();
    throw error;
  }
}

/** One line of figures, as the test logs them and the benchmark prints them. */
export function describeFigures(name: string, f: LoadFigures): string {
  const n = (v: number | null | undefined, digits = 1): string =>
    v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits);
  const parts = [
    `health_p50_ms=${n(f.health.ms.p50)} health_p99_ms=${n(f.health.ms.p99)} health_max_ms=${n(f.health.ms.max)} health_polls=${f.health.polls} health_failures=${f.health.failures}`,
    `dhcp_exchanges=${f.dhcp.exchanges} dhcp_drops=${f.dhcp.drops} dhcp_offer_p50_ms=${n(f.dhcp.offerP50Ms)} dhcp_offer_p99_ms=${n(f.dhcp.offerP99Ms)} dhcp_ack_p50_ms=${n(f.dhcp.ackP50Ms)} dhcp_ack_p99_ms=${n(f.dhcp.ackP99Ms)} dhcp_ack_max_ms=${n(f.dhcp.ackMaxMs)}`,
    `loop_p50_ms=${n(f.loop.p50Ms)} loop_p99_ms=${n(f.loop.p99Ms)} loop_max_ms=${n(f.loop.maxMs)}`,
  ];
  if (f.hostile) {
    parts.push(
      `hostile_requests=${f.hostile.requests} hostile_per_s=${n(f.hostile.requests / f.seconds, 0)} refused_answer_p50_ms=${n(f.hostile.answerMs.p50)} refused_answer_p99_ms=${n(f.hostile.answerMs.p99)} refused_answer_max_ms=${n(f.hostile.answerMs.max)} refused_over_1s=${f.hostile.slowCount} admitted_answer_p50_ms=${n(f.hostile.admittedMs.p50)} admitted_answer_max_ms=${n(f.hostile.admittedMs.max)} uncoded=${f.hostile.uncodedCount} unexpected_code=${f.hostile.unexpectedCount}`,
    );
  }
  return `${name} ${parts.join(' ')}`;
}
