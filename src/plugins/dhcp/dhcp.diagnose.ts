/**
 * The DHCP plugin's part of `diagnose(mac)` (ctx.diagnostics.provide): what only DHCP sees.
 *
 * - Another DHCP server on the served network. In full mode the Pi may take the rival's offer,
 *   which names no TFTP server for it, and never ask bramble for a file. In proxy mode the
 *   opposite is needed: some server must hand out addresses, or the Pi's DISCOVERs go unanswered.
 * - DHCP retried about every 5 s with no TFTP request: the classic sign of a switch port that
 *   forwards nothing while spanning tree is listening and learning (30 s or more by default, longer
 *   than the Pi 3 ROM's patience). The Pi sees bramble's offer late or not at all; PortFast (an
 *   "edge port") fixes it. Seen in the field with PiServer; docs/pi-netboot-protocol.md §1.
 *
 * Pure: the plugin hands in what it keeps (the rivals from its probe, the DISCOVER times per MAC
 * from `DiscoverLog`) and the core's summary of the last boot.
 */
import type { DiagnosisBoot, DiagnosisFinding } from '../../core/plugin-api';

/** DISCOVER times kept per client, and clients kept (oldest forgotten first). */
const TIMES_PER_CLIENT = 12;
const MAX_CLIENTS = 4_096;

/** Remembers when each approved client last sent DISCOVERs (before any fact throttling). */
export class DiscoverLog {
  private readonly times = new Map<string, number[]>();

  note(mac: string, at: number): void {
    let list = this.times.get(mac);
    if (list) this.times.delete(mac);
    else list = [];
    list.push(at);
    if (list.length > TIMES_PER_CLIENT) list.splice(0, list.length - TIMES_PER_CLIENT);
    this.times.set(mac, list);
    if (this.times.size > MAX_CLIENTS) this.times.delete(this.times.keys().next().value!);
  }

  get(mac: string): readonly number[] {
    return this.times.get(mac) ?? [];
  }
}

export interface DhcpDiagnosisInput {
  mode: 'proxy' | 'full';
  interface: string | null;
  /** Other servers' answers from the last probe (own answers excluded). */
  rivals: readonly { serverId: string; offeredIp: string }[];
  /** Whether a probe has run yet (without one, nothing is said about rivals). */
  probed: boolean;
  /** This client's DISCOVER times (epoch ms, oldest first). */
  discovers: readonly number[];
  lastBoot: DiagnosisBoot | null;
  now: number;
}

/** Gaps the Pi firmware leaves between DHCP attempts when it hears nothing usable: about 4–6 s. */
const RETRY_GAP_MIN_MS = 3_000;
const RETRY_GAP_MAX_MS = 9_000;
/** This many DISCOVERs in a row at that pace make the pattern. */
const RETRY_MIN_DISCOVERS = 3;
/** Only a recent pattern says something about now. */
const RETRY_RECENT_MS = 15 * 60_000;

/** The DISCOVERs at the end of `times` that follow each other at the retry pace. */
export function retryRun(times: readonly number[]): number[] {
  const run: number[] = [];
  for (let i = times.length - 1; i >= 0; i--) {
    if (run.length > 0) {
      const gap = run[0] - times[i];
      if (gap < RETRY_GAP_MIN_MS || gap > RETRY_GAP_MAX_MS) break;
    }
    run.unshift(times[i]);
  }
  return run;
}

export function dhcpFindings(input: DhcpDiagnosisInput): DiagnosisFinding[] {
  const findings: DiagnosisFinding[] = [];
  const on = input.interface ? ` on ${input.interface}` : '';
  if (input.probed && input.mode === 'full' && input.rivals.length > 0) {
    findings.push({
      code: 'RIVAL_DHCP_SERVER',
      severity: 'error',
      message:
        `another DHCP server answers${on} (${input.rivals.map((r) => r.serverId).join(', ')}): the Pi may take its offer, which names no boot server, ` +
        'and never ask bramble for a file. Switch it off for this network, or run bramble in proxy mode beside it.',
    });
  }
  if (input.probed && input.mode === 'proxy' && !input.rivals.some((r) => r.offeredIp !== '0.0.0.0')) {
    findings.push({
      code: 'NO_ADDRESS_SERVER',
      severity: 'error',
      message: `bramble runs in proxy mode, but no DHCP server hands out addresses${on}: the Pi gets bramble's boot answer but no address. Start the network's DHCP server, or use full mode.`,
    });
  }
  const run = retryRun(input.discovers);
  const last = run[run.length - 1];
  const noTftp = input.lastBoot === null || input.lastBoot.lastProgressStage === 'DHCP';
  if (run.length >= RETRY_MIN_DISCOVERS && input.now - last <= RETRY_RECENT_MS && noTftp) {
    const pace = Math.round((last - run[0]) / (run.length - 1) / 100) / 10;
    findings.push({
      code: 'DHCP_RETRIES_NO_TFTP',
      severity: 'warning',
      message:
        `it sent ${run.length} DHCP DISCOVERs about every ${pace} s and never asked for a boot file: typical of a switch port that forwards nothing ` +
        'while spanning tree starts up (30 s or more). Turn on PortFast (an "edge port") for the Pis\u2019 ports, or check the cable and the switch.',
    });
  }
  return findings;
}
