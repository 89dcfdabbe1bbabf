/**
 * Events the DHCP plugin appends (streams `plugin-dhcp-leases` and `plugin-dhcp-diagnostics`,
 * through ctx.commands.appendEvent), with the schema of their data, and what it consumes. Type
 * names are string constants, past tense.
 */
import { Ipv4, MacAddress, Type } from '../../core/plugin-api';

export const DHCP_LEASE_STREAM = 'leases';
export const DHCP_DIAGNOSTICS_STREAM = 'diagnostics';

export const DHCP_EVENTS = {
  /** Full mode: an address was bound to a client (first lease, or a different address). */
  DhcpLeaseBound: Type.Object({ mac: MacAddress(), ip: Ipv4(), leaseSeconds: Type.Integer({ minimum: 0 }) }),
  /** Full mode: a binding ended (client RELEASE, or reclaimed for another client after expiry). */
  DhcpLeaseReleased: Type.Object({
    mac: MacAddress(),
    ip: Ipv4(),
    reason: Type.Union([Type.Literal('release'), Type.Literal('reclaimed'), Type.Literal('declined')]),
  }),
  /** Full mode: a client reported the address in use by someone else (DHCPDECLINE). */
  DhcpAddressDeclined: Type.Object({ mac: MacAddress(), ip: Ipv4() }),
  /** Another DHCP server answered bramble's probe on the served interface. */
  RivalDhcpServerDetected: Type.Object({
    serverId: Ipv4(),
    /** The address it offered (0.0.0.0 for a proxy server). */
    offeredIp: Ipv4(),
    interface: Type.Union([Type.String(), Type.Null()]),
    mode: Type.Union([Type.Literal('proxy'), Type.Literal('full')]),
  }),
};

export const DhcpEventType = {
  DhcpLeaseBound: 'DhcpLeaseBound',
  DhcpLeaseReleased: 'DhcpLeaseReleased',
  DhcpAddressDeclined: 'DhcpAddressDeclined',
  RivalDhcpServerDetected: 'RivalDhcpServerDetected',
} as const satisfies { [K in keyof typeof DHCP_EVENTS]: K };

/**
 * What the plugin projects: only its own lease events. Clients (approved or not, and the address
 * each last used) come from ctx.views, so per-boot events (ClientRedetected, ClientAddressLearned:
 * most of the log over a school year) are never replayed here.
 */
export const DHCP_CONSUMED_TYPES = [
  DhcpEventType.DhcpLeaseBound,
  DhcpEventType.DhcpLeaseReleased,
  DhcpEventType.DhcpAddressDeclined,
] as const;
