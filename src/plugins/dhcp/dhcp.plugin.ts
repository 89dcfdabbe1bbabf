/**
 * plugin/dhcp — sees Pis as they try to boot, records them, and answers only approved ones, in
 * proxy mode (another server gives addresses) or full mode (bramble leases addresses).
 *
 * Setup (this file): settings → DhcpConfig, sockets on the configured interface, rival probing,
 * health. Per-packet work: dhcp.server.ts (I/O), dhcp.decider.ts (pure), dhcp.codec.ts (pure).
 */
import { definePlugin, type GlobalSettings, type PluginFactory, type PluginHealth } from '../../core/plugin-api';
import { createBoundUdpFd } from './bound-udp-socket';
import { buildDhcpConfig, checkDhcpSettings, DhcpSettingsSchema, type DhcpContext, type DhcpSettings } from './dhcp.config';
import { DHCP_CONSUMED_TYPES, DHCP_DIAGNOSTICS_STREAM, DHCP_EVENTS, DhcpEventType } from './dhcp.events';
import { probeDhcpServers, type ProbeAnswer } from './dhcp.probe';
import { DhcpServer, type FdFactory } from './dhcp.server';
import { DhcpView, type DhcpViewSnapshot } from './dhcp.view';
import { dhcpFindings } from './dhcp.diagnose';

export interface DhcpPluginOptions {
  /** Creates bound socket descriptors; tests wrap it to create them inside a network namespace. */
  createFd?: FdFactory;
  /** How often to look for other DHCP servers (ms); 0 disables. Default 5 minutes. */
  probeIntervalMs?: number;
  /** How long a probe waits for offers (ms). Default DEFAULT_PROBE_WAIT_MS. */
  probeWaitMs?: number;
  now?: () => number;
}

/**
 * How long a probe waits for offers by default. dnsmasq, the DHCP server of most home and small-office
 * routers, pings an address (3 s, PING_WAIT) before offering it to a client it has no lease for, and
 * remembers the result for only 30 s: each probe (a client it never leases to, minutes apart) gets
 * its OFFER about 3 s late. A shorter wait would never see such a rival.
 */
export const DEFAULT_PROBE_WAIT_MS = 4000;

export function createDhcpPlugin(options: DhcpPluginOptions = {}): PluginFactory {
  return () => {
    const view = new DhcpView();
    const createFd = options.createFd ?? createBoundUdpFd;
    let ctx: DhcpContext | null = null;
    let server: DhcpServer | null = null;
    let boundTo: { iface: string | null; serverIp: string | null } | null = null;
    let problem: string | null = null;
    let rivals: ProbeAnswer[] = [];
    /** answers -1: the probe failed (`error`). */
    let lastProbe: { at: string; answers: number; error?: string } | null = null;
    let probeTimer: NodeJS.Timeout | null = null;
    /** The probe running now (probes share udp/68: never two at once), and whether another is due. */
    let probing: Promise<void> | null = null;
    let probeAgain = false;
    let stopped = false;
    const probeAbort = new AbortController();
    let unsubscribe: (() => void) | null = null;
    const reportedRivals = new Set<string>();

    async function bind(settings: DhcpSettings, global: GlobalSettings): Promise<void> {
      const c = ctx!;
      const iface = global.interface;
      const serverIp = c.serverAddress(global);
      if (!iface) {
        await server?.close();
        server = null;
        boundTo = null;
        problem =
          'no interface configured: set BRAMBLE_INTERFACE or the interface setting (bramble never serves DHCP on every interface by default)';
        c.logger.warn(problem);
        return;
      }
      const config = buildDhcpConfig(settings, serverIp);
      if (server) server.config = config;
      else server = new DhcpServer(c, view, config, createFd, options.now);
      if (boundTo && boundTo.iface === iface && server.listening) {
        boundTo.serverIp = serverIp;
      } else {
        await server.close();
        await server.listen(iface);
        boundTo = { iface, serverIp };
        c.logger.info('serving DHCP', { interface: iface, serverIp, mode: settings.mode });
      }
      problem = serverIp ? null : `no server address: set BRAMBLE_SERVER_IP or the serverIp setting (${iface} has no IPv4 address here)`;
    }

    async function probe(): Promise<void> {
      const c = ctx;
      if (!c || !boundTo || stopped) return;
      const settings = c.settings();
      const ownIp = c.serverAddress();
      try {
        const answers = (
          await probeDhcpServers(createFd, boundTo.iface, options.probeWaitMs ?? DEFAULT_PROBE_WAIT_MS, probeAbort.signal)
        ).filter((a) => a.serverId !== ownIp);
        if (stopped) return;
        lastProbe = { at: new Date().toISOString(), answers: answers.length };
        rivals = answers;
        for (const a of answers) {
          // In proxy mode other servers are expected (one must hand out addresses).
          if (settings.mode !== 'full' || reportedRivals.has(a.serverId)) continue;
          reportedRivals.add(a.serverId);
          c.logger.warn('another DHCP server answers on the served interface', { server: a.serverId, offered: a.offeredIp });
          await c.commands.appendEvent(DHCP_DIAGNOSTICS_STREAM, DhcpEventType.RivalDhcpServerDetected, {
            serverId: a.serverId,
            offeredIp: a.offeredIp,
            interface: boundTo?.iface ?? null,
            mode: settings.mode,
          });
        }
      } catch (error) {
        c.logger.warn('DHCP server probe failed', { error: (error as Error).message });
        lastProbe = { at: new Date().toISOString(), answers: -1, error: (error as Error).message };
      }
    }

    const probeEvery = options.probeIntervalMs ?? 5 * 60_000;

    /** Runs a probe now, or right after the one running (two would fight over udp/68). */
    function requestProbe(): void {
      if (probeEvery <= 0 || stopped) return;
      if (probing) {
        probeAgain = true;
        return;
      }
      probing = probe().finally(() => {
        probing = null;
        if (probeAgain) {
          probeAgain = false;
          requestProbe();
        }
      });
    }

    function scheduleProbes(): void {
      if (probeEvery <= 0) return;
      requestProbe();
      probeTimer = setInterval(requestProbe, probeEvery);
      probeTimer.unref();
    }

    return definePlugin({
      name: 'dhcp',
      description: 'Sees Pis as they try to boot and answers the approved ones (proxy or full DHCP).',
      settings: DhcpSettingsSchema,
      checkSettings: checkDhcpSettings,
      emits: DHCP_EVENTS,
      consumes: DHCP_CONSUMED_TYPES,
      project(event) {
        view.apply(event);
      },
      snapshot: () => view.snapshot(),
      restore: (state) => view.restore(state as DhcpViewSnapshot),
      async start(context) {
        ctx = context;
        view.clients = context.views.clients;
        view.holdAfterRestart((options.now ?? Date.now)(), context.settings().leaseSeconds);
        await bind(context.settings(), context.global());
        // The host applies one change at a time: two binds never run at once.
        unsubscribe = context.onSettingsChanged((settings, global) =>
          bind(settings, global)
            .then(() => {
              // A mode or interface change deserves a fresh look at the other servers.
              rivals = [];
              requestProbe();
            })
            .catch((error: Error) => {
              problem = error.message;
              context.logger.error('could not apply new DHCP settings', { error: error.message });
            }),
        );
        scheduleProbes();
        context.diagnostics.provide((input) =>
          dhcpFindings({
            mode: context.settings().mode,
            interface: boundTo?.iface ?? null,
            rivals,
            probed: lastProbe !== null && lastProbe.answers >= 0,
            discovers: server?.discovers.get(input.mac) ?? [],
            lastBoot: input.lastBoot,
            now: (options.now ?? Date.now)(),
          }),
        );
      },
      async stop() {
        stopped = true;
        if (probeTimer) clearInterval(probeTimer);
        probeAbort.abort();
        await probing;
        unsubscribe?.();
        await server?.close();
        server = null;
      },
      health(): PluginHealth {
        const settings = ctx?.settings();
        const checks: PluginHealth['checks'] = {
          mode: settings?.mode ?? null,
          interface: boundTo?.iface ?? null,
          serverIp: boundTo?.serverIp ?? null,
          approvedClients: ctx?.views.clients.list().filter((c) => c.status === 'approved').length ?? 0,
          bindings: view.bindings.size,
          lastProbe: lastProbe?.at ?? null,
        };
        if (!server?.listening) return { status: 'down', detail: problem ?? 'not listening', checks };
        if (problem) return { status: 'degraded', detail: problem, checks };
        if (lastProbe && lastProbe.answers < 0) {
          return { status: 'degraded', detail: `cannot look for other DHCP servers on ${boundTo?.iface}: ${lastProbe.error}`, checks };
        }
        if (settings?.mode === 'full' && rivals.length > 0) {
          return {
            status: 'degraded',
            detail: `another DHCP server answers on ${boundTo?.iface}: ${rivals.map((r) => r.serverId).join(', ')} (Pis may take its offer)`,
            checks,
          };
        }
        if (settings?.mode === 'proxy' && lastProbe && lastProbe.answers >= 0 && !rivals.some((r) => r.offeredIp !== '0.0.0.0')) {
          return { status: 'degraded', detail: `proxy mode, but no DHCP server hands out addresses on ${boundTo?.iface}`, checks };
        }
        return { status: 'up', checks };
      },
    });
  };
}
