import type { DomainEvent } from '../shared/decider';

/** All settings live in one stream. */
export const SETTINGS_STREAM = 'settings';

export const SettingsEventType = {
  SettingsUpdated: 'SettingsUpdated',
} as const;

export type DhcpMode = 'proxy' | 'full';

export interface Settings {
  /** proxy: another server hands out addresses, bramble only adds the boot options. */
  dhcpMode: DhcpMode;
  /** Full mode lease range, inclusive (IPv4). */
  dhcpRangeStart: string | null;
  dhcpRangeEnd: string | null;
  /** Full mode subnet mask (option 1), e.g. 255.255.255.0. */
  dhcpNetmask: string | null;
  /** Full mode lease time in seconds (option 51). */
  dhcpLeaseSeconds: number;
  /** Router (option 3), full mode. */
  gateway: string | null;
  /** DNS servers (option 6), full mode. */
  dnsServers: string[];
  /** The one network interface bramble serves (BRAMBLE_INTERFACE pins it). */
  interface: string | null;
  /** The address Pis reach bramble at (BRAMBLE_SERVER_IP pins it). */
  serverIp: string | null;
  /** Base DN of the LDAP directory. */
  ldapBaseDn: string;
  /**
   * Settings contributed by plugins, by plugin name then key. Each plugin validates its own
   * keys (PluginDefinition.validateSettings).
   */
  plugins: Record<string, Record<string, unknown>>;
}

export const DEFAULT_SETTINGS: Settings = {
  dhcpMode: 'proxy',
  dhcpRangeStart: null,
  dhcpRangeEnd: null,
  dhcpNetmask: null,
  dhcpLeaseSeconds: 3600,
  gateway: null,
  dnsServers: [],
  interface: null,
  serverIp: null,
  ldapBaseDn: 'dc=bramble,dc=local',
  plugins: {},
};

/** `changes` holds only the fields that changed, with their new values. */
export type SettingsUpdated = DomainEvent<'SettingsUpdated', { changes: Partial<Settings> }>;

export type SettingsEvent = SettingsUpdated;
