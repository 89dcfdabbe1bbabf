/**
 * plugin/tftp — serves each approved Pi the boot files of the image assigned to it, over TFTP,
 * with its own generated cmdline.txt and config.txt, and reports every file for boot progress.
 *
 * Setup (this file): settings → limits, the udp/69 socket on the configured interface, the
 * transfer worker, health. Per request: tftp.worker.ts reads it and starts it when its copy of the
 * views can decide it (tftp.mirror.ts), else forwards it to tftp.server.ts; both use
 * tftp.decider.ts, tftp.options.ts and tftp.generated.ts (pure) and tftp.files.ts (the boot
 * folder). Per packet of a transfer: tftp.worker.ts (I/O) with tftp.transfer.ts and tftp.codec.ts
 * (pure).
 */
import { access, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { definePlugin, type GlobalSettings, type PluginFactory, type PluginHealth } from '../../core/plugin-api';
import { tftpFindings } from './tftp.diagnose';
import { TftpSettingsSchema, transferLimits, type TftpContext, type TftpSettings } from './tftp.config';
import { BootFiles } from './tftp.files';
import { createTftpSocket } from './tftp.libc';
import { TftpServer, type FdFactory } from './tftp.server';

export interface TftpPluginOptions {
  /** Creates socket descriptors; tests wrap it to create them inside a network namespace. */
  createFd?: FdFactory;
  /** Bytes of boot files kept in memory (default 512 MiB). */
  cacheBytes?: number;
  now?: () => number;
}

/** For a PC: whether the iPXE binary its firmware chain-loads is in `ipxeDir` (undefined for a Pi). */
async function ipxeCheck(model: string | null, dir: string): Promise<{ dir: string; binary: string; present: boolean } | undefined> {
  if (model !== 'pc-bios' && model !== 'pc-uefi') return undefined;
  const binary = model === 'pc-bios' ? 'undionly.kpxe' : 'ipxe.efi';
  const present = await access(path.join(dir, binary)).then(
    () => true,
    () => false,
  );
  return { dir, binary, present };
}

export function createTftpPlugin(options: TftpPluginOptions = {}): PluginFactory {
  return () => {
    const createFd = options.createFd ?? createTftpSocket;
    const files = new BootFiles({ maxCacheBytes: options.cacheBytes });
    let ctx: TftpContext | null = null;
    let server: TftpServer | null = null;
    let bound: { iface: string; port: number; generatedRoot: string } | null = null;
    let problem: string | null = null;
    let unsubscribe: (() => void) | null = null;

    async function bind(settings: TftpSettings, global: GlobalSettings): Promise<void> {
      const c = ctx!;
      const iface = global.interface;
      const serverIp = c.serverAddress(global);
      if (!iface) {
        await server?.close();
        server = null;
        bound = null;
        problem =
          'no interface configured: set BRAMBLE_INTERFACE or the interface setting (bramble never serves boot files on every interface by default)';
        c.logger.warn(problem);
        return;
      }
      const generatedRoot = settings.generatedRoot ?? path.join(c.runtime.dataDir, 'generated');
      const limits = transferLimits(settings);
      if (
        server &&
        bound &&
        bound.iface === iface &&
        bound.port === settings.port &&
        bound.generatedRoot === generatedRoot &&
        server.listening
      ) {
        server.setLimits(limits);
        server.ipxeDir = settings.ipxeDir;
        server.retarget(serverIp);
      } else {
        await server?.close();
        server = null;
        bound = null;
        const next = new TftpServer(c, { createFd, files, limits, generatedRoot, ipxeDir: settings.ipxeDir, now: options.now });
        try {
          await next.listen(iface, serverIp, settings.port);
        } catch (error) {
          await next.close();
          throw error;
        }
        server = next;
        bound = { iface, port: settings.port, generatedRoot };
        c.logger.info('serving TFTP', { interface: iface, serverIp, port: settings.port });
      }
      problem = serverIp
        ? null
        : `no server address: set BRAMBLE_SERVER_IP or the serverIp setting (${iface} has no IPv4 address here; cmdline.txt needs it for nfsroot=)`;
    }

    return definePlugin({
      name: 'tftp',
      description: "Serves each approved Pi its image's boot files over TFTP, with its own cmdline.txt and config.txt.",
      settings: TftpSettingsSchema,
      async start(context) {
        ctx = context;
        try {
          await bind(context.settings(), context.global());
        } catch (error) {
          problem = (error as Error).message;
          throw error;
        }
        // The host applies one change at a time (two binds at once could each open a listener and
        // lose one: found by the TFTP bench), and stop() waits for the one being applied.
        unsubscribe = context.onSettingsChanged((settings, global) =>
          bind(settings, global).catch((error: Error) => {
            problem = error.message;
            context.logger.error('could not apply new TFTP settings', { error: error.message });
          }),
        );
        context.diagnostics.provide(async ({ mac, client }) => {
          const image = client?.imageId ? context.views.images.get(client.imageId) : null;
          let names: string[] | null = null;
          if (image) names = await readdir(image.bootPath).catch(() => null);
          return tftpFindings({
            mac,
            model: client?.model ?? null,
            image: image ? { name: image.name, version: image.version, bootFolder: image.bootPath } : null,
            bootFolderNames: names,
            // A mix-up older than a day says nothing about today's boots.
            serialNote: server?.serialNotes.get(mac, Date.now() - 24 * 3600_000) ?? null,
            ipxe: await ipxeCheck(client?.model ?? null, context.settings().ipxeDir),
          });
        });
      },
      async stop() {
        unsubscribe?.();
        await server?.close();
        server = null;
      },
      health(): PluginHealth {
        const checks: PluginHealth['checks'] = {
          interface: bound?.iface ?? null,
          port: bound?.port ?? null,
          serverIp: ctx ? ctx.serverAddress() : null,
          activeTransfers: server?.activeTransfers ?? 0,
          cachedBytes: files.cacheBytes,
        };
        if (!server?.listening) return { status: 'down', detail: problem ?? server?.problem ?? 'not listening', checks };
        if (problem) return { status: 'degraded', detail: problem, checks };
        return { status: 'up', checks };
      },
    });
  };
}
