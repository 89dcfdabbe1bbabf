/**
 * The DHCP plugin's configuration: the core settings it uses (dhcpMode, range, netmask, gateway,
 * DNS, lease time, server address) and its own settings under `settings.plugins.dhcp`, validated
 * once here (setup) and turned into the DhcpConfig the decider reads.
 */
import { isIPv4 } from 'node:net';
import type { Settings } from '../../core/plugin-api/plugin';
import { ipToInt, type DhcpConfig } from './dhcp.decider';

export interface DhcpPluginSettings {
  /** Delay of replies to Pi 3 boot ROMs (`b8:27:eb`), ms; 0 turns it off. Default 1000. */
  pi3ReplyDelayMs: number;
  /** Full mode: MAC → fixed IPv4 address. */
  fixedAddresses: Record<string, string>;
}

export const DEFAULT_DHCP_PLUGIN_SETTINGS: DhcpPluginSettings = { pi3ReplyDelayMs: 1000, fixedAddresses: {} };

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** `key: problem`, or null. */
export function validateDhcpSettings(values: Record<string, unknown>): string | null {
  for (const [key, value] of Object.entries(values)) {
    if (key === 'pi3ReplyDelayMs') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 5000) return 'pi3ReplyDelayMs: an integer from 0 to 5000';
    } else if (key === 'fixedAddresses') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'fixedAddresses: an object of MAC → IPv4 address';
      const seen = new Set<string>();
      for (const [mac, ip] of Object.entries(value as Record<string, unknown>)) {
        if (!MAC.test(mac)) return `fixedAddresses: ${mac}: not a lower-case aa:bb:cc:dd:ee:ff MAC`;
        if (typeof ip !== 'string' || !isIPv4(ip)) return `fixedAddresses: ${mac}: not an IPv4 address`;
        if (seen.has(ip)) return `fixedAddresses: ${ip} is given to two clients`;
        seen.add(ip);
      }
    } else {
      return `${key}: unknown setting (pi3ReplyDelayMs, fixedAddresses)`;
    }
  }
  return null;
}

export function pluginSettings(settings: Settings): DhcpPluginSettings {
  return { ...DEFAULT_DHCP_PLUGIN_SETTINGS, ...(settings.plugins.dhcp as Partial<DhcpPluginSettings> | undefined) };
}

/** The decider's configuration from the effective settings. */
export function buildDhcpConfig(settings: Settings, serverIp: string | null): DhcpConfig {
  const own = pluginSettings(settings);
  return {
    mode: settings.dhcpMode,
    serverIp,
    rangeStart: settings.dhcpRangeStart ? ipToInt(settings.dhcpRangeStart) : null,
    rangeEnd: settings.dhcpRangeEnd ? ipToInt(settings.dhcpRangeEnd) : null,
    netmask: settings.dhcpNetmask,
    gateway: settings.gateway,
    dnsServers: settings.dnsServers,
    leaseSeconds: settings.dhcpLeaseSeconds,
    fixed: new Map(Object.entries(own.fixedAddresses)),
    pi3DelayMs: own.pi3ReplyDelayMs,
  };
}
