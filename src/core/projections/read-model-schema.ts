/**
 * The schema of a read-model snapshot's `state` (SerializedReadModels): checked entry by entry
 * before a snapshot is trusted, so a file that parses but is not what the projections write
 * (`{}`, a user without a password hash, a client whose key is not its MAC...) is rebuilt from the
 * store instead of quietly serving a wrong or empty fleet.
 */
import { DEFAULT_SETTINGS } from '../domain/settings/settings.events';

type Check = (value: unknown) => boolean;

const str: Check = (v) => typeof v === 'string';
const strOrNull: Check = (v) => v === null || typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const int: Check = (v) => Number.isSafeInteger(v);
const strList: Check = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');
const oneOf = (...values: string[]): Check => (v) => typeof v === 'string' && values.includes(v);

/** Field → check, for each kind of entry; an entry must have exactly these fields. */
const VIEWS = {
  clients: {
    key: 'mac',
    fields: {
      mac: str, status: oneOf('pending', 'approved', 'rejected'), name: strOrNull, imageId: strOrNull, serial: strOrNull,
      model: strOrNull, ip: strOrNull, configTxt: str, cmdlineArgs: str, preRegistered: bool, detectedAt: strOrNull,
      lastSeenAt: strOrNull, approvedAt: strOrNull, updatedAt: str,
    },
  },
  users: {
    key: 'username',
    fields: {
      username: str, uidNumber: int, gidNumber: int, fullName: str, groups: strList, enabled: bool, passwordHash: str,
      createdAt: str, updatedAt: str,
    },
  },
  groups: { key: 'name', fields: { name: str, gidNumber: int, members: strList, createdAt: str } },
  images: { key: 'id', fields: { id: str, name: str, path: str, bootPath: str, registeredAt: str } },
  tokens: { key: 'sha256', fields: { name: str, sha256: str, issuedAt: str } },
} as const satisfies Record<string, { key: string; fields: Record<string, Check> }>;

const TOP_LEVEL = ['clients', 'clientByIp', 'users', 'groups', 'images', 'settings', 'tokens'];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkEntries(name: keyof typeof VIEWS, list: unknown): string | null {
  if (!Array.isArray(list)) return `${name}: not a list of [key, value] entries`;
  const { key, fields } = VIEWS[name];
  const expected = Object.keys(fields);
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const entry: unknown = list[i];
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') return `${name}[${i}]: not a [key, value] entry`;
    const [k, view] = entry as [string, unknown];
    if (seen.has(k)) return `${name}[${i}]: duplicate key ${JSON.stringify(k)}`;
    seen.add(k);
    if (!isPlainObject(view)) return `${name}[${i}]: not an object`;
    for (const field of expected) {
      if (!(field in view)) return `${name}[${i}].${field}: missing`;
      if (!(fields as Record<string, Check>)[field](view[field])) return `${name}[${i}].${field}: wrong type (${JSON.stringify(view[field])})`;
    }
    for (const field of Object.keys(view)) if (!expected.includes(field)) return `${name}[${i}]: unknown field ${JSON.stringify(field)}`;
    if (view[key] !== k) return `${name}[${i}]: key ${JSON.stringify(k)} differs from its ${key}`;
  }
  return null;
}

/**
 * Settings keep their defaults' shape: an object whose known keys hold a value of the default's
 * type (a string where the default is a string, a list where it is a list...; where the default is
 * null any value); no key the defaults do not have.
 */
function checkSettings(settings: unknown): string | null {
  if (!isPlainObject(settings)) return 'settings: not an object';
  const defaults = DEFAULT_SETTINGS as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(settings)) {
    if (!Object.prototype.hasOwnProperty.call(defaults, k)) return `settings.${k}: unknown setting`;
    const d = defaults[k];
    if (d === null) continue;
    const ok = Array.isArray(d) ? Array.isArray(v) : isPlainObject(d) ? isPlainObject(v) : typeof v === typeof d && (typeof v !== 'number' || Number.isFinite(v));
    if (!ok) return `settings.${k}: wrong type (${JSON.stringify(v)})`;
  }
  return null;
}

/** Null when `state` is a SerializedReadModels as the projections write it, else the first problem. */
export function validateSerializedReadModels(state: unknown): string | null {
  if (!isPlainObject(state)) return 'not an object';
  for (const k of TOP_LEVEL) if (!(k in state)) return `${k}: missing`;
  for (const k of Object.keys(state)) if (!TOP_LEVEL.includes(k)) return `unknown field ${JSON.stringify(k)}`;
  for (const name of Object.keys(VIEWS) as (keyof typeof VIEWS)[]) {
    const problem = checkEntries(name, state[name]);
    if (problem) return problem;
  }
  const byIp = state.clientByIp;
  if (!Array.isArray(byIp)) return 'clientByIp: not a list of [ip, mac] entries';
  const clients = new Set((state.clients as [string, unknown][]).map(([mac]) => mac));
  for (let i = 0; i < byIp.length; i++) {
    const entry: unknown = byIp[i];
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      return `clientByIp[${i}]: not an [ip, mac] entry`;
    }
    if (!clients.has(entry[1])) return `clientByIp[${i}]: ${entry[0]} → ${entry[1]}: no such client`;
  }
  return checkSettings(state.settings);
}
