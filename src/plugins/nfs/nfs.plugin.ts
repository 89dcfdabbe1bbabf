/**
 * plugin/nfs — the Pis' root file systems and home folders over NFS.
 *
 * Setup (this file): settings, the exports kept in step with the core's clients and images views
 * (nfs.exports.ts, pure), rendered for the backend in use (nfs.ganesha-config.ts or
 * nfs.kernel-exports.ts, pure) and applied (nfs.ganesha.ts: bramble's supervised nfs-ganesha;
 * nfs.kernel.ts: exportfs), the users' home folders kept in step with the users view
 * (nfs.homes.ts), the homes part of an image conversion, health.
 *
 * Nothing is served, and nothing is written outside the data folder, until the plugin can serve:
 * the ganesha backend needs the server address (it listens on that address only, like the other
 * protocol plugins); the kernel backend is an explicit choice of the admin.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  definePlugin,
  type CounterMetric,
  type GaugeMetric,
  type PluginFactory,
  type PluginHealth,
  type UserRecord,
} from '../../core/plugin-api';
import { archivePathOf, checkNfsSettings, NfsSettingsSchema, type NfsContext, type NfsSettings } from './nfs.config';
import { projectExports, type ExportsProjection, type NfsVersion } from './nfs.exports';
import { GaneshaServer } from './nfs.ganesha';
import { rootMountFact, type MountSeen } from './nfs.mount-log';
import { renderGaneshaConfig, type GaneshaExport } from './nfs.ganesha-config';
import { archiveHome, ensureHome } from './nfs.homes';
import { KernelExports } from './nfs.kernel';
import { renderKernelExports } from './nfs.kernel-exports';
import { defaultSpawner, type Spawner } from './nfs.process';

export interface NfsPluginOptions {
  /** How programs are run; tests run them inside a lab's namespaces. */
  spawn?: Spawner;
  /** Wait after a change of clients or images before the exports are rewritten (several changes, one reload). */
  debounceMs?: number;
  /** First restart delay of a dead ganesha (doubles up to 30 s). */
  restartBackoffMs?: number;
  now?: () => Date;
}

export const DEFAULT_DEBOUNCE_MS = 200;

/** A Pi's root mount is reported at most this often (a remount after a network blip is not a boot). */
export const MOUNT_FACT_EVERY_MS = 60_000;

interface NfsMetrics {
  exports: GaugeMetric;
  refused: GaugeMetric;
  applies: CounterMetric;
  rootMounts: CounterMetric;
}

type Backend = { kind: 'ganesha'; server: GaneshaServer; bindAddress: string } | { kind: 'kernel'; exports: KernelExports; file: string };

export function createNfsPlugin(options: NfsPluginOptions = {}): PluginFactory {
  return () => {
    const spawn = options.spawn ?? defaultSpawner;
    const now = options.now ?? (() => new Date());
    let ctx: NfsContext | null = null;
    let backend: Backend | null = null;
    let problem: string | null = null;
    let projection: ExportsProjection = { exports: [], refused: [] };
    let lastWritten = '';
    let lastRefused = '[]';
    let timer: NodeJS.Timeout | null = null;
    let stopped = false;
    /** One reconcile or home-folder change at a time, in order. */
    let queue: Promise<void> = Promise.resolve();
    const homeProblems = new Map<string, string>();
    const unsubscribers: (() => void)[] = [];
    const exportIds = new Map<string, number>();
    const lastMountFact = new Map<string, number>();
    let mountsReported = 0;
    let metrics: NfsMetrics | null = null;
    let nextExportId = 1;

    function enqueue(work: () => Promise<void>): Promise<void> {
      queue = queue.then(work).catch((error: Error) => {
        problem = error.message;
        ctx?.logger.error('NFS plugin step failed', { error: error.message });
      });
      return queue;
    }

    /** A stable id per exported path while the plugin runs (1..65535; a freed id is reused only once all are taken). */
    function idOf(p: string): number {
      let id = exportIds.get(p);
      if (id !== undefined) return id;
      if (nextExportId > 65535) {
        const inUse = new Set(projection.exports.map((e) => e.path));
        for (const key of [...exportIds.keys()]) if (!inUse.has(key)) exportIds.delete(key);
        const taken = new Set(exportIds.values());
        for (id = 1; id <= 65535 && taken.has(id); id++);
      } else {
        id = nextExportId++;
      }
      exportIds.set(p, id);
      return id;
    }

    function schedule(delay = options.debounceMs ?? DEFAULT_DEBOUNCE_MS): void {
      if (stopped) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        void enqueue(reconcile);
      }, delay);
    }

    async function stopBackend(): Promise<void> {
      const b = backend;
      backend = null;
      lastWritten = '';
      if (b?.kind === 'ganesha') await b.server.stop();
    }

    /** The backend the settings ask for, started or kept; null (with `problem`) when it cannot serve. */
    async function backendFor(s: NfsSettings): Promise<Backend | null> {
      const c = ctx!;
      if (s.backend === 'kernel') {
        if (backend?.kind === 'kernel' && backend.file === s.exportsFile) return backend;
        await stopBackend();
        backend = { kind: 'kernel', exports: new KernelExports(s.exportsFile, spawn), file: s.exportsFile };
        return backend;
      }
      const bindAddress = c.serverAddress();
      if (!bindAddress) {
        await stopBackend();
        problem = 'no server address: set BRAMBLE_INTERFACE or BRAMBLE_SERVER_IP (bramble never serves NFS on every interface)';
        return null;
      }
      if (backend?.kind === 'ganesha' && backend.bindAddress === bindAddress) return backend;
      await stopBackend();
      backend = {
        kind: 'ganesha',
        bindAddress,
        server: new GaneshaServer({
          dir: path.join(c.runtime.dataDir, 'ganesha'),
          spawn,
          logger: c.logger.child('ganesha'),
          backoffMs: options.restartBackoffMs,
          onMount: (mount) => reportMount(mount),
        }),
      };
      return backend;
    }

    async function reconcile(): Promise<void> {
      const c = ctx;
      if (!c || stopped) return;
      const s = c.settings();
      const b = await backendFor(s);
      if (!b) return;
      problem = null;
      projection = projectExports({
        clients: c.views.clients.list(),
        images: c.views.images.list(),
        homesPath: s.homesPath,
        clientSubnet: s.clientSubnet,
      });
      // The homes folder must exist before it is exported: ganesha skips an export whose path is
      // missing and would not look again until the next reload. Made only once it is exported.
      const homes = projection.exports.find((e) => e.kind === 'homes');
      if (homes) await fs.mkdir(homes.path, { recursive: true, mode: 0o755 });
      if (metrics) {
        metrics.exports.set({ kind: 'image' }, projection.exports.filter((e) => e.kind === 'image').length);
        metrics.exports.set({ kind: 'homes' }, projection.exports.filter((e) => e.kind === 'homes').length);
        metrics.refused.set(projection.refused.length);
      }
      const refusedKey = JSON.stringify(projection.refused);
      if (refusedKey !== lastRefused) {
        for (const r of projection.refused) c.logger.warn('export refused', { path: r.path, reason: r.reason, imageId: r.imageId });
        lastRefused = refusedKey;
      }
      const numbered: GaneshaExport[] = projection.exports.map((e) => ({ ...e, exportId: idOf(e.path) }));
      const versions = [...s.versions].sort() as NfsVersion[];
      if (b.kind === 'kernel') {
        const text = renderKernelExports(numbered);
        if (text === lastWritten && !b.exports.problem) return;
        await b.exports.apply(text);
        lastWritten = text;
      } else {
        const text = renderGaneshaConfig({
          exports: numbered,
          versions,
          bindAddress: b.bindAddress,
          recoveryRoot: b.server.recoveryRoot,
          logMounts: versions.includes(3),
        });
        if (text === lastWritten && (b.server.running || b.server.problem)) return;
        await b.server.apply(text, JSON.stringify([b.bindAddress, versions]), versions.includes(3));
        lastWritten = text;
      }
      if (!(b.kind === 'kernel' ? b.exports.problem : b.server.problem)) metrics?.applies.inc({ backend: b.kind });
      c.logger.info('NFS exports applied', { backend: b.kind, exports: numbered.length, refused: projection.refused.length });
    }

    /** A Pi's NFSv3 mount of an image root, as a boot fact (at most once per Pi and export per minute). */
    function reportMount(mount: MountSeen): void {
      const c = ctx;
      if (!c || stopped) return;
      const fact = rootMountFact(mount, projection.exports, (ip) => c.views.clients.byIp(ip));
      if (!fact) return;
      const key = `${fact.mac} ${String(fact.detail?.export)}`;
      const t = Date.now();
      if (t - (lastMountFact.get(key) ?? -Infinity) < MOUNT_FACT_EVERY_MS) return;
      lastMountFact.set(key, t);
      if (lastMountFact.size > 10_000) lastMountFact.delete(lastMountFact.keys().next().value as string);
      mountsReported++;
      metrics?.rootMounts.inc();
      c.commands.reportBootFact(fact).catch((error: Error) => c.logger.warn('could not record a root mount', { error: error.message }));
    }

    async function homeOf(user: UserRecord): Promise<void> {
      const s = ctx!.settings();
      const result = await ensureHome(s.homesPath, user);
      if (result.status === 'refused') {
        homeProblems.set(user.username, result.reason);
        ctx!.logger.warn('home folder not made', { username: user.username, path: result.path, reason: result.reason });
      } else {
        homeProblems.delete(user.username);
        if (result.status === 'created') ctx!.logger.info('home folder created', { username: user.username, path: result.path });
      }
    }

    async function archiveOf(username: string): Promise<void> {
      const s = ctx!.settings();
      const result = await archiveHome(s.homesPath, archivePathOf(s), username, now());
      homeProblems.delete(username);
      if (result.status === 'archived') ctx!.logger.info('home folder archived', { username, archivedTo: result.path });
      else if (result.status === 'refused') {
        homeProblems.set(username, result.reason);
        ctx!.logger.warn('home folder not archived', { username, path: result.path, reason: result.reason });
      }
    }

    /** Whether home folders are managed now: only while the plugin can serve them. */
    function serving(): boolean {
      const c = ctx!;
      return c.settings().backend === 'kernel' || c.serverAddress() !== null;
    }

    async function syncAllHomes(): Promise<void> {
      if (!serving()) return;
      for (const user of ctx!.views.users.list()) await homeOf(user);
    }

    return definePlugin({
      name: 'nfs',
      description:
        "Exports each image version's root read-only and the users' home folders read-write over NFS (v3, v4) to approved clients, through a supervised nfs-ganesha or the kernel's NFS server.",
      settings: NfsSettingsSchema,
      checkSettings: (values) => checkNfsSettings(values),
      async start(context) {
        ctx = context;
        stopped = false;
        const m = context.metrics;
        metrics = {
          exports: m.gauge('exports', 'Exports written to the NFS server, by kind (image: one per image version path; homes)', ['kind']),
          refused: m.gauge('refused_exports', 'Image or homes paths not exported: a config file cannot carry them safely'),
          applies: m.counter('applies_total', 'Export sets applied (ganesha started or reloaded, or exportfs -ra run), by backend', [
            'backend',
          ]),
          rootMounts: m.counter('root_mounts_total', 'NFSv3 mounts of an image root by a known client, reported as boot facts'),
        };
        unsubscribers.push(
          context.views.clients.onChange(() => schedule()),
          context.views.images.onChange(() => schedule()),
          context.views.users.onChange((change) => {
            if (!serving()) return;
            const record = change.record;
            void enqueue(() => (record ? homeOf(record) : archiveOf(change.key)));
          }),
          context.onSettingsChanged(() =>
            enqueue(async () => {
              await reconcile();
              await syncAllHomes();
            }),
          ),
          context.images.provideConversion(() => {
            const s = context.settings();
            return { homes: { exportPath: s.homesPath.replace(/\/+$/, ''), nfsVersion: s.versions.includes(4) ? 4 : 3 } };
          }),
        );
        await enqueue(async () => {
          await syncAllHomes();
          await reconcile();
        });
      },
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = null;
        for (const u of unsubscribers.splice(0)) u();
        await queue;
        await stopBackend();
      },
      health(): PluginHealth {
        const b = backend;
        const checks: PluginHealth['checks'] = {
          backend: ctx?.settings().backend ?? null,
          exports: projection.exports.length,
          imageExports: projection.exports.filter((e) => e.kind === 'image').length,
          refusedExports: projection.refused.length,
          homeFolderProblems: homeProblems.size,
          rootMountsReported: mountsReported,
          ganeshaPid: b?.kind === 'ganesha' ? b.server.pid : null,
          ganeshaRestarts: b?.kind === 'ganesha' ? b.server.restarts : null,
          ganeshaReloads: b?.kind === 'ganesha' ? b.server.reloads : null,
          bindAddress: b?.kind === 'ganesha' ? b.bindAddress : null,
          exportsFile: b?.kind === 'kernel' ? b.file : null,
        };
        const backendProblem = b?.kind === 'ganesha' ? b.server.problem : b?.kind === 'kernel' ? b.exports.problem : null;
        if (!b) return { status: 'down', detail: problem ?? 'not started', checks };
        if (backendProblem) return { status: 'down', detail: backendProblem, checks };
        if (b.kind === 'ganesha' && !b.server.running) return { status: 'down', detail: 'ganesha.nfsd is starting', checks };
        if (b.kind === 'kernel' && b.exports.applied === 0) return { status: 'down', detail: 'exports not applied yet', checks };
        const notes = [
          ...projection.refused.map((r) => `not exported ${JSON.stringify(r.path)}: ${r.reason}`),
          ...[...homeProblems].map(([u, reason]) => `home of ${u}: ${reason}`),
          ...(problem ? [problem] : []),
        ];
        if (notes.length > 0)
          return {
            status: 'degraded',
            detail: notes.slice(0, 3).join('; ') + (notes.length > 3 ? ` (+${notes.length - 3} more)` : ''),
            checks,
          };
        return { status: 'up', checks };
      },
    });
  };
}
