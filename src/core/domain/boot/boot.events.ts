import type { DomainEvent } from '../shared/decider';

/** Boot facts of one client: `boot-<mac>`. Observations appended by protocol plugins. */
export const bootStream = (mac: string): string => `boot-${mac}`;
export const BOOT_STREAM_PREFIX = 'boot-';

export const BootEventType = {
  BootProgressed: 'BootProgressed',
} as const;

/**
 * One observed step of a boot. `stage` is a short constant chosen by the reporting plugin
 * (`dhcp.discover`, `dhcp.offered`, `dhcp.acked`, `tftp.file-served`...).
 */
export type BootProgressed = DomainEvent<
  'BootProgressed',
  {
    mac: string;
    stage: string;
    plugin: string;
    ip: string | null;
    /** Free-form detail (xid, file name, size...): no secrets. */
    detail: Record<string, string | number | boolean | null>;
  }
>;
