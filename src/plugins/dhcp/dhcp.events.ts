/**
 * Events the DHCP plugin appends (stream `plugin-dhcp-leases`, through ctx.commands.appendEvent)
 * and the core events it consumes. Type names are string constants, past tense.
 */
export const DHCP_LEASE_STREAM = 'leases';
export const DHCP_DIAGNOSTICS_STREAM = 'diagnostics';

export const DhcpEventType = {
  /** Full mode: an address was bound to a client (first lease, or a different address). */
  DhcpLeaseBound: 'DhcpLeaseBound',
  /** Full mode: a binding ended (client RELEASE, or reclaimed for another client after expiry). */
  DhcpLeaseReleased: 'DhcpLeaseReleased',
  /** Full mode: a client reported the address in use by someone else (DHCPDECLINE). */
  DhcpAddressDeclined: 'DhcpAddressDeclined',
  /** Another DHCP server answered bramble's probe on the served interface. */
  RivalDhcpServerDetected: 'RivalDhcpServerDetected',
} as const;

export interface DhcpLeaseBoundData { mac: string; ip: string; leaseSeconds: number }
export interface DhcpLeaseReleasedData { mac: string; ip: string; reason: 'release' | 'reclaimed' | 'declined' }
export interface DhcpAddressDeclinedData { mac: string; ip: string }
export interface RivalDhcpServerDetectedData {
  serverId: string;
  /** The address it offered (0.0.0.0 for a proxy server). */
  offeredIp: string;
  interface: string | null;
  mode: 'proxy' | 'full';
}

/**
 * Core event types this plugin's view is built from. Deliberately not ClientRedetected nor
 * ClientAddressLearned: those come once per boot of every Pi, so over a school year they are most
 * of the log, and the plugin replays what it consumes at every start. The address a Pi uses is
 * remembered from what this plugin itself reports instead.
 */
export const DHCP_CONSUMED_TYPES = [
  'ClientDetected',
  'ClientApproved',
  'ClientRejected',
  'ClientRemoved',
  DhcpEventType.DhcpLeaseBound,
  DhcpEventType.DhcpLeaseReleased,
  DhcpEventType.DhcpAddressDeclined,
] as const;
