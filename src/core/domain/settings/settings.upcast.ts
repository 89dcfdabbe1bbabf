/**
 * SettingsUpdated schema version 1 → 2. Version 1 (bramble 0.1) kept the DHCP fields and the LDAP
 * base DN in the core settings, merged field by field, and replaced a plugin's values
 * (`plugins.<name>`) as a whole. Version 2 keeps only `interface` and `serverIp` global; the rest
 * belongs to the plugins. Events are never rewritten: this runs on every read of an old event.
 */
import type { PluginSettingsChange, SettingsUpdatedData } from './settings.events';
import { isPlainObject } from '../shared/json';

/** Version-1 DHCP fields → the DHCP plugin's keys. */
const V1_DHCP_FIELDS: Record<string, string> = {
  dhcpMode: 'mode',
  dhcpRangeStart: 'rangeStart',
  dhcpRangeEnd: 'rangeEnd',
  dhcpNetmask: 'netmask',
  dhcpLeaseSeconds: 'leaseSeconds',
  gateway: 'gateway',
  dnsServers: 'dnsServers',
};

/** The keys `plugins.dhcp` could hold in version 1 (its validator refused any other). */
const V1_DHCP_PLUGIN_KEYS = ['pi3ReplyDelayMs', 'fixedAddresses'];

export function upcastSettingsUpdatedV1(data: unknown): SettingsUpdatedData {
  const changes = isPlainObject(data) && isPlainObject(data.changes) ? data.changes : {};
  const out: SettingsUpdatedData = {};
  const plugins: Record<string, PluginSettingsChange> = {};
  for (const key of ['interface', 'serverIp'] as const) {
    if (key in changes) out.global = { ...out.global, [key]: changes[key] as string | null };
  }
  const dhcpSet: Record<string, unknown> = {};
  for (const [v1, v2] of Object.entries(V1_DHCP_FIELDS)) if (v1 in changes) dhcpSet[v2] = changes[v1];
  if (Object.keys(dhcpSet).length > 0) plugins.dhcp = { set: dhcpSet };
  if ('ldapBaseDn' in changes) plugins.ldap = { set: { baseDn: changes.ldapBaseDn } };
  if (isPlainObject(changes.plugins)) {
    for (const [name, values] of Object.entries(changes.plugins)) {
      if (!isPlainObject(values)) continue;
      if (name === 'dhcp') {
        // Replacing dhcp's plugin values must not touch the fields that came from the core settings.
        plugins.dhcp = {
          set: { ...plugins.dhcp?.set, ...values },
          unset: V1_DHCP_PLUGIN_KEYS.filter((k) => !(k in values)),
        };
      } else {
        plugins[name] = { set: { ...values }, replace: true };
      }
    }
  }
  if (Object.keys(plugins).length > 0) out.plugins = plugins;
  return out;
}
