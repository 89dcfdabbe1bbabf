import { isIPv4 } from 'node:net';
import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import { DEFAULT_SETTINGS, type Settings, type SettingsEvent, type SettingsUpdated } from './settings.events';

// ---------------------------------------------------------------------------------------------
// Command

/** Validates one plugin's settings; returns null when valid, else `key: problem`. */
export type PluginSettingsValidator = (values: Record<string, unknown>) => string | null;

export interface UpdateSettings {
  type: 'UpdateSettings';
  /** The fields to set. For `plugins`, each plugin named gets exactly the values given. */
  changes: Partial<Settings>;
  /** Fields fixed by the environment: field → the variable that sets it (BRAMBLE_SERVER_IP...). */
  pinned: Partial<Record<keyof Settings, string>>;
  /** The loaded plugins' own validators, by plugin name. */
  pluginValidators: Record<string, PluginSettingsValidator>;
}

export type SettingsCommand = UpdateSettings;

/** The settings as they are: the defaults plus every change since. */
export type SettingsState = Settings;

export const SETTINGS_KEYS = Object.keys(DEFAULT_SETTINGS) as Array<keyof Settings>;

// ---------------------------------------------------------------------------------------------
// Applying changes (used by evolve and by the settings read model)

function copyValue<K extends keyof Settings>(key: K, value: Settings[K]): Settings[K] {
  if (key === 'dnsServers') return [...(value as string[])] as Settings[K];
  return value;
}

/**
 * Returns `settings` with `changes` applied. Each plugin named in `changes.plugins` gets exactly
 * the values given (its earlier values are replaced); other plugins keep theirs. Unknown keys are
 * ignored.
 */
export function applySettingsChanges(settings: Settings, changes: Partial<Settings>): Settings {
  const next: Settings = { ...settings, dnsServers: [...settings.dnsServers], plugins: { ...settings.plugins } };
  for (const key of Object.keys(changes ?? {}) as Array<keyof Settings>) {
    if (!SETTINGS_KEYS.includes(key)) continue;
    const value = changes[key];
    if (value === undefined) continue;
    if (key === 'plugins') {
      for (const [plugin, values] of Object.entries(value as Settings['plugins'])) {
        next.plugins[plugin] = { ...values };
      }
    } else {
      (next as unknown as Record<string, unknown>)[key] = copyValue(key, value as never);
    }
  }
  return next;
}

// ---------------------------------------------------------------------------------------------
// IPv4 helpers

function toInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function fromInt(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** The prefix length of a contiguous netmask (`255.255.255.0` → 24), or null. */
export function netmaskPrefix(mask: string): number | null {
  if (!isIPv4(mask)) return null;
  const bits = toInt(mask).toString(2).padStart(32, '0');
  if (!/^1+0*$/.test(bits)) return null;
  return bits.indexOf('0') === -1 ? 32 : bits.indexOf('0');
}

// ---------------------------------------------------------------------------------------------
// Validation of single fields

const INTERFACE_PATTERN = /^[A-Za-z0-9_.:-]{1,15}$/;
const RDN_PATTERN = /^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)*)=[^,=+"\\<>;]+$/;
export const MIN_LEASE_SECONDS = 60;
export const MAX_LEASE_SECONDS = 31536000;

function ipv4OrNull(field: string, value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string' || !isIPv4(value)) throw validationError(field, 'not an IPv4 address');
  return value;
}

/** `dc=school, dc=example` → `dc=school,dc=example`; anything else than attr=value RDNs: error. */
export function normalizeBaseDn(value: unknown): string {
  if (typeof value !== 'string') throw validationError('ldapBaseDn', 'must be a DN such as dc=school,dc=example');
  const rdns = value.split(',').map((rdn) =>
    rdn
      .split('=')
      .map((part) => part.trim())
      .join('='),
  );
  if (rdns.length === 0 || !rdns.every((rdn) => RDN_PATTERN.test(rdn))) {
    throw validationError('ldapBaseDn', 'must be a DN of attr=value parts separated by commas, e.g. dc=school,dc=example');
  }
  return rdns.join(',');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks one field's value (type and shape) and returns it normalised. */
function validateField(
  key: keyof Settings,
  value: unknown,
  pluginValidators: Record<string, PluginSettingsValidator>,
): unknown {
  switch (key) {
    case 'dhcpMode':
      if (value !== 'proxy' && value !== 'full') throw validationError(key, 'must be proxy or full');
      return value;
    case 'dhcpRangeStart':
    case 'dhcpRangeEnd':
    case 'gateway':
    case 'serverIp':
      return ipv4OrNull(key, value);
    case 'dhcpNetmask':
      if (value === null) return null;
      if (typeof value !== 'string' || !isIPv4(value)) throw validationError(key, 'not an IPv4 netmask');
      if (!netmaskPrefix(value)) throw validationError(key, 'not a contiguous netmask (e.g. 255.255.255.0)');
      return value;
    case 'dhcpLeaseSeconds':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < MIN_LEASE_SECONDS || value > MAX_LEASE_SECONDS) {
        throw validationError(key, `must be an integer from ${MIN_LEASE_SECONDS} to ${MAX_LEASE_SECONDS}`);
      }
      return value;
    case 'dnsServers':
      if (!Array.isArray(value)) throw validationError(key, 'must be a list of IPv4 addresses');
      for (const server of value) {
        if (typeof server !== 'string' || !isIPv4(server)) throw validationError(key, 'not an IPv4 address');
      }
      return [...value];
    case 'interface':
      if (value === null) return null;
      if (typeof value !== 'string' || !INTERFACE_PATTERN.test(value)) {
        throw validationError(key, 'must be an interface name: 1-15 letters, digits, `_`, `.`, `:` or `-`');
      }
      return value;
    case 'ldapBaseDn':
      return normalizeBaseDn(value);
    case 'plugins': {
      if (!isPlainObject(value)) throw validationError(key, 'must map plugin names to their settings');
      const plugins: Record<string, Record<string, unknown>> = {};
      for (const [name, values] of Object.entries(value)) {
        const field = `plugins.${name}`;
        const validator = pluginValidators[name];
        if (typeof validator !== 'function') throw validationError(field, 'no such plugin');
        if (!isPlainObject(values)) throw validationError(field, 'must be an object of settings');
        let problem: string | null;
        try {
          problem = validator(values);
        } catch (error) {
          problem = `validator failed: ${error instanceof Error ? error.message : String(error)}`;
        }
        if (problem) {
          // `rangeStart: not an IPv4 address` → field `plugins.dhcp.rangeStart`
          const colon = problem.indexOf(':');
          const sub = colon > 0 ? problem.slice(0, colon).trim() : '';
          const subField = sub && /^[\w.-]+$/.test(sub) ? `${field}.${sub}` : field;
          throw new DomainError(ErrorCode.VALIDATION, `${field}.${problem}`, subField);
        }
        plugins[name] = { ...values };
      }
      return plugins;
    }
    default: {
      const unknown: never = key;
      throw validationError(String(unknown), 'unknown setting');
    }
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as never)[k], (b as never)[k]))
  );
}

// ---------------------------------------------------------------------------------------------
// Validation of the settings as a whole

function validateWhole(s: Settings): void {
  if (s.dhcpMode === 'full') {
    for (const field of ['dhcpRangeStart', 'dhcpRangeEnd', 'dhcpNetmask'] as const) {
      if (s[field] === null) throw validationError(field, 'required in full DHCP mode');
    }
  }
  if (s.dhcpRangeStart !== null && s.dhcpRangeEnd !== null && toInt(s.dhcpRangeStart) > toInt(s.dhcpRangeEnd)) {
    throw validationError('dhcpRangeStart', 'must not be after dhcpRangeEnd');
  }
  const prefix = s.dhcpNetmask === null ? null : netmaskPrefix(s.dhcpNetmask);
  // The subnet is the server's when it is known, else the one the range starts in.
  const reference = s.serverIp ?? s.dhcpRangeStart ?? s.gateway;
  if (prefix === null || reference === null) return;
  const size = 2 ** (32 - prefix);
  const network = toInt(reference) - (toInt(reference) % size);
  const broadcast = network + size - 1;
  const subnet = `${fromInt(network)}/${prefix}`;
  for (const field of ['dhcpRangeStart', 'dhcpRangeEnd', 'gateway'] as const) {
    const ip = s[field];
    if (ip === null) continue;
    const n = toInt(ip);
    if (n < network || n > broadcast) throw validationError(field, `not in the subnet ${subnet}`);
    if (field !== 'gateway' && prefix <= 30 && (n === network || n === broadcast)) {
      throw validationError(field, `is the ${n === network ? 'network' : 'broadcast'} address of ${subnet}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decider

function decide(command: SettingsCommand, state: SettingsState): SettingsEvent[] {
  const input = (command.changes ?? {}) as Record<string, unknown>;
  const pinned = (command.pinned ?? {}) as Record<string, string | undefined>;
  const validators = command.pluginValidators ?? {};
  const changes: Partial<Settings> = {};
  for (const key of Object.keys(input)) {
    if (!(SETTINGS_KEYS as string[]).includes(key)) throw validationError(key, 'unknown setting');
    const k = key as keyof Settings;
    if (input[key] === undefined) continue;
    const value = validateField(k, input[key], validators);
    if (k === 'plugins') {
      const changed: Settings['plugins'] = {};
      for (const [name, values] of Object.entries(value as Settings['plugins'])) {
        if (!deepEqual(state.plugins[name] ?? {}, values)) changed[name] = values;
      }
      if (Object.keys(changed).length === 0) continue;
      if (pinned.plugins) throw new DomainError(ErrorCode.SETTING_PINNED, `plugins: set by ${pinned.plugins}`, 'plugins');
      changes.plugins = changed;
    } else {
      if (deepEqual(state[k], value)) continue;
      const env = pinned[key];
      if (env) throw new DomainError(ErrorCode.SETTING_PINNED, `${key}: set by ${env}`, key);
      (changes as Record<string, unknown>)[key] = value;
    }
  }
  if (Object.keys(changes).length === 0) return [];
  validateWhole(applySettingsChanges(state, changes));
  const event: SettingsUpdated = { type: 'SettingsUpdated', data: { changes } };
  return [event];
}

function evolve(state: SettingsState, event: SettingsEvent | DomainEvent): SettingsState {
  if (event.type !== 'SettingsUpdated') return state;
  return applySettingsChanges(state, (event as SettingsUpdated).data.changes);
}

export const settingsDecider: Decider<SettingsState, SettingsCommand, SettingsEvent> = {
  initialState: () => applySettingsChanges(DEFAULT_SETTINGS, {}),
  evolve,
  decide,
};
