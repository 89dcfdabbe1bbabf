/**
 * The TFTP plugin's settings (schema: defaults and a description per key, validated by bramble
 * before they are stored) and the TftpConfig the server reads, built once per change.
 */
import { Nullable, Type, type PluginContext, type Static } from '../../core/plugin-api';
import type { TransferLimits } from './tftp.options';

export const TftpSettingsSchema = Type.Object(
  {
    port: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 69,
      description: 'UDP port of the TFTP server (69: what the Pi firmware asks; another port only for tests behind a redirect).',
    }),
    generatedRoot: Nullable(Type.String({ minLength: 1 }), {
      default: null,
      description:
        "Folder where each Pi's generated cmdline.txt and config.txt are also written, as <folder>/<mac-with-dashes>/, so an admin can read what a Pi gets (default: generated/ in the plugin's data folder).",
    }),
    ipxeDir: Type.String({
      minLength: 1,
      pattern: '^/',
      default: '/usr/lib/ipxe',
      description:
        "Folder of the iPXE boot loaders served to lab PCs: undionly.kpxe (BIOS) and ipxe.efi (UEFI). Default: Debian's ipxe package.",
    }),
    maxBlockSize: Type.Integer({
      minimum: 8,
      maximum: 65464,
      default: 1468,
      description:
        'Largest block size granted (RFC 2348 blksize). 1468 fills a 1500-byte Ethernet frame (what Pi 4/5 bootloaders ask); larger blocks are IP-fragmented, which some switches and firewalls drop.',
    }),
    maxWindowSize: Type.Integer({
      minimum: 1,
      maximum: 256,
      default: 64,
      description: 'Largest window granted (RFC 7440 windowsize): blocks sent before waiting for an ACK. Pi firmware never asks for one.',
    }),
    retransmitMs: Type.Integer({
      minimum: 100,
      maximum: 10000,
      default: 1000,
      description:
        'How long to wait for an ACK before sending the unacknowledged blocks again, unless the client asked its own timeout (RFC 2349).',
    }),
    maxRetries: Type.Integer({
      minimum: 1,
      maximum: 20,
      default: 5,
      description: 'Resends without progress after which a transfer is abandoned (the Pi firmware gives a file 30 s: TFTP_FILE_TIMEOUT).',
    }),
  },
  { additionalProperties: false },
);

export type TftpSettings = Static<typeof TftpSettingsSchema>;

/** What the TFTP plugin's code gets from the host. */
export type TftpContext = PluginContext<Record<never, never>, typeof TftpSettingsSchema>;

/** The limits of a transfer, from the settings. */
export function transferLimits(s: TftpSettings): TransferLimits {
  return { maxBlockSize: s.maxBlockSize, maxWindowSize: s.maxWindowSize, defaultTimeoutMs: s.retransmitMs, maxRetries: s.maxRetries };
}
