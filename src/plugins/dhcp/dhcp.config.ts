/**
 * The DHCP plugin's settings (schema: defaults and a description per key, validated by bramble
 * before they are stored), their cross-field checks, and the DhcpConfig the decider reads, built
 * once per change (setup, not per packet).
 */
import {
  Ipv4,
  Netmask,
  Nullable,
  Type,
  inSubnet,
  ipv4ToInt,
  netmaskPrefix,
  subnetOf,
  type GlobalSettings,
  type PluginContext,
  type SettingsProblem,
  type Static,
} from '../../core/plugin-api';
import type { DhcpConfig } from './dhcp.decider';
import type { DHCP_EVENTS } from './dhcp.events';

export const DhcpSettingsSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('proxy'), Type.Literal('full')], {
      default: 'proxy',
      description:
        'proxy: another DHCP server on the LAN hands out addresses and bramble only adds the boot options to approved Pis; full: bramble leases addresses to its approved Pis.',
    }),
    rangeStart: Nullable(Ipv4(), { default: null, description: 'Full mode: first address of the lease pool.' }),
    rangeEnd: Nullable(Ipv4(), { default: null, description: 'Full mode: last address of the lease pool (inclusive).' }),
    netmask: Nullable(Netmask(), { default: null, description: 'Full mode: subnet mask (option 1), e.g. 255.255.255.0.' }),
    leaseSeconds: Type.Integer({
      minimum: 60,
      maximum: 31536000,
      default: 3600,
      description: 'Full mode: lease time in seconds (option 51).',
    }),
    gateway: Nullable(Ipv4(), { default: null, description: 'Full mode: router (option 3).' }),
    dnsServers: Type.Array(Ipv4(), {
      maxItems: 3,
      default: [],
      description: 'Full mode: DNS servers (option 6). At most 3: a Linux resolver uses no more (MAXNS in resolv.h).',
    }),
    pi3ReplyDelayMs: Type.Integer({
      minimum: 0,
      maximum: 5000,
      default: 1000,
      description: 'Delay of replies to Pi 3 boot ROMs (b8:27:eb), which miss instant replies; 0 turns it off.',
    }),
    fixedAddresses: Type.Record(Type.String({ pattern: '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' }), Ipv4(), {
      additionalProperties: false,
      default: {},
      description: 'Full mode: a fixed IPv4 address per client, by lower-case MAC (aa:bb:cc:dd:ee:ff).',
    }),
  },
  { additionalProperties: false },
);

export type DhcpSettings = Static<typeof DhcpSettingsSchema>;

/** What the DHCP plugin's code gets from the host. */
export type DhcpContext = PluginContext<typeof DHCP_EVENTS, typeof DhcpSettingsSchema>;

/**
 * Checks on the settings as a whole: the pool, gateway and fixed addresses lie in one subnet (the
 * server's when it is known), and none of them is the server's own address, the gateway, or the
 * subnet's network or broadcast address.
 */
export function checkDhcpSettings(s: DhcpSettings, global: GlobalSettings): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  if (s.mode === 'full') {
    for (const field of ['rangeStart', 'rangeEnd', 'netmask'] as const) {
      if (s[field] === null) problems.push({ field, message: 'required in full mode' });
    }
  }
  if (s.rangeStart !== null && s.rangeEnd !== null && ipv4ToInt(s.rangeStart) > ipv4ToInt(s.rangeEnd)) {
    problems.push({ field: 'rangeStart', message: `must not be after rangeEnd (${s.rangeEnd})` });
  }
  const inPool = (ip: string): boolean =>
    s.rangeStart !== null && s.rangeEnd !== null && ipv4ToInt(ip) >= ipv4ToInt(s.rangeStart) && ipv4ToInt(ip) <= ipv4ToInt(s.rangeEnd);
  if (global.serverIp && inPool(global.serverIp)) {
    problems.push({
      field: 'rangeStart',
      message: `the pool ${s.rangeStart}-${s.rangeEnd} contains the server's own address ${global.serverIp}`,
    });
  }
  if (s.gateway && inPool(s.gateway))
    problems.push({ field: 'gateway', message: `${s.gateway} lies inside the pool ${s.rangeStart}-${s.rangeEnd}` });
  const fixedSeen = new Map<string, string>();
  for (const [mac, ip] of Object.entries(s.fixedAddresses)) {
    const field = `fixedAddresses.${mac}`;
    if (ip === global.serverIp) problems.push({ field, message: `${ip} is the server's own address` });
    else if (ip === s.gateway) problems.push({ field, message: `${ip} is the gateway` });
    const other = fixedSeen.get(ip);
    if (other) problems.push({ field, message: `${ip} is already fixed for ${other}` });
    fixedSeen.set(ip, mac);
  }
  const prefix = s.netmask === null ? null : netmaskPrefix(s.netmask);
  const reference = global.serverIp ?? s.rangeStart ?? s.gateway;
  if (prefix !== null && reference !== null) {
    const subnet = subnetOf(reference, prefix);
    const check = (field: string, ip: string | null, endpointsAllowed: boolean): void => {
      if (ip === null) return;
      if (!inSubnet(ip, subnet)) problems.push({ field, message: `${ip} is not in the subnet ${subnet.cidr}` });
      else if (!endpointsAllowed && prefix <= 30 && (ipv4ToInt(ip) === subnet.network || ipv4ToInt(ip) === subnet.broadcast)) {
        problems.push({
          field,
          message: `${ip} is the ${ipv4ToInt(ip) === subnet.network ? 'network' : 'broadcast'} address of ${subnet.cidr}`,
        });
      }
    };
    check('rangeStart', s.rangeStart, false);
    check('rangeEnd', s.rangeEnd, false);
    check('gateway', s.gateway, true);
    for (const [mac, ip] of Object.entries(s.fixedAddresses)) check(`fixedAddresses.${mac}`, ip, false);
  }
  return problems;
}

/** The decider's configuration from the plugin's settings and the server address in use. */
export function buildDhcpConfig(s: DhcpSettings, serverIp: string | null): DhcpConfig {
  const anchor = serverIp ?? s.rangeStart;
  const prefix = s.netmask === null ? null : netmaskPrefix(s.netmask);
  return {
    mode: s.mode,
    serverIp,
    rangeStart: s.rangeStart ? ipv4ToInt(s.rangeStart) : null,
    rangeEnd: s.rangeEnd ? ipv4ToInt(s.rangeEnd) : null,
    netmask: s.netmask,
    subnet: anchor !== null && prefix !== null ? subnetOf(anchor, prefix) : null,
    gateway: s.gateway,
    dnsServers: [...s.dnsServers],
    leaseSeconds: s.leaseSeconds,
    fixed: new Map(Object.entries(s.fixedAddresses)),
    pi3DelayMs: s.pi3ReplyDelayMs,
  };
}
