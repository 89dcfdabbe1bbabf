/**
 * The schema of a read-model snapshot's `state` (SerializedReadModels): checked entry by entry
 * before a snapshot is trusted, so a file that parses but is not what the projections write
 * (`{}`, a user without a password hash, a client whose key is not its MAC...) is rebuilt from the
 * store instead of quietly serving a wrong or empty fleet.
 */
import { isPlainObject } from '../domain/shared/json';
type Check = (value: unknown) => boolean;

const str: Check = (v) => typeof v === 'string';
const strOrNull: Check = (v) => v === null || typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const int: Check = (v) => Number.isSafeInteger(v);
const strList: Check = (v) => Array.isArray(v) && v.every((s) => typeof s === 'string');
const nullOr =
  (check: Check): Check =>
  (v) =>
    v === null || check(v);
/** A plain object with exactly these fields. */
const shape =
  (fields: Record<string, Check>): Check =>
  (v) =>
    isPlainObject(v) &&
    Object.keys(v).length === Object.keys(fields).length &&
    Object.entries(fields).every(([k, check]) => Object.hasOwn(v, k) && check((v as Record<string, unknown>)[k]));
const listOf =
  (check: Check): Check =>
  (v) =>
    Array.isArray(v) && v.every(check);
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v);

/** Field → check, for each kind of entry; an entry must have exactly these fields. */
const VIEWS = {
  clients: {
    key: 'mac',
    fields: {
      mac: str,
      status: oneOf('pending', 'approved', 'rejected'),
      name: strOrNull,
      imageId: strOrNull,
      bootedImage: nullOr(shape({ imageId: str, version: int })),
      serial: strOrNull,
      model: strOrNull,
      ip: strOrNull,
      configTxt: str,
      cmdlineArgs: str,
      preRegistered: bool,
      detectedAt: strOrNull,
      lastSeenAt: strOrNull,
      approvedAt: strOrNull,
      updatedAt: str,
    },
  },
  users: {
    key: 'username',
    fields: {
      username: str,
      uidNumber: int,
      gidNumber: int,
      fullName: str,
      groups: strList,
      enabled: bool,
      passwordHash: str,
      createdAt: str,
      updatedAt: str,
    },
  },
  groups: { key: 'name', fields: { name: str, gidNumber: int, members: strList, createdAt: str } },
  images: {
    key: 'id',
    fields: {
      id: str,
      name: str,
      path: str,
      bootPath: str,
      version: int,
      versions: listOf(
        shape({
          version: int,
          parentVersion: nullOr(int),
          reason: oneOf('registered', 'imported', 'cloned', 'convert', 'command', 'rollback'),
          path: str,
          bootPath: str,
          createdAt: str,
        }),
      ),
      managed: bool,
      architecture: strOrNull,
      osRelease: nullOr(shape({ id: strOrNull, versionId: strOrNull, versionCodename: strOrNull, prettyName: strOrNull })),
      converted: bool,
      registeredAt: str,
    },
  },
  tokens: { key: 'sha256', fields: { name: str, sha256: str, issuedAt: str, issuedBy: str } },
} as const satisfies Record<string, { key: string; fields: Record<string, Check> }>;

const TOP_LEVEL = ['clients', 'clientByIp', 'clientBySerial', 'users', 'groups', 'images', 'settings', 'tokens'];

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
      if (!(fields as Record<string, Check>)[field](view[field]))
        return `${name}[${i}].${field}: wrong type (${JSON.stringify(view[field])})`;
    }
    for (const field of Object.keys(view)) if (!expected.includes(field)) return `${name}[${i}]: unknown field ${JSON.stringify(field)}`;
    if (view[key] !== k) return `${name}[${i}]: key ${JSON.stringify(k)} differs from its ${key}`;
  }
  return null;
}

/**
 * Settings: the global ones (interface, serverIp: a string or null; the boot ones: numbers, an
 * object of numbers) and, per plugin, an object of
 * its stored values (checked against its schema when it is changed, not here).
 */
function checkSettings(settings: unknown): string | null {
  if (!isPlainObject(settings)) return 'settings: not an object';
  for (const k of Object.keys(settings)) if (k !== 'global' && k !== 'plugins') return `settings.${k}: unknown field`;
  const { global, plugins } = settings;
  if (!isPlainObject(global)) return 'settings.global: not an object';
  for (const k of Object.keys(global)) {
    const v = global[k];
    if (k === 'interface' || k === 'serverIp') {
      if (!strOrNull(v)) return `settings.global.${k}: wrong type (${JSON.stringify(v)})`;
    } else if (k === 'bootRetentionDays' || k === 'bootReportPort') {
      if (typeof v !== 'number' || !Number.isInteger(v)) return `settings.global.${k}: wrong type (${JSON.stringify(v)})`;
    } else if (k === 'bootTimeouts') {
      if (!isPlainObject(v) || !Object.values(v).every((n) => typeof n === 'number')) return `settings.global.${k}: wrong type`;
    } else return `settings.global.${k}: unknown setting`;
  }
  if (!isPlainObject(plugins)) return 'settings.plugins: not an object';
  for (const [name, values] of Object.entries(plugins)) if (!isPlainObject(values)) return `settings.plugins.${name}: not an object`;
  return null;
}

/** An index `[key, mac]` whose every MAC is a client's. */
function checkIndex(name: string, index: unknown, clients: Set<string>): string | null {
  if (!Array.isArray(index)) return `${name}: not a list of [key, mac] entries`;
  for (let i = 0; i < index.length; i++) {
    const entry: unknown = index[i];
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      return `${name}[${i}]: not a [key, mac] entry`;
    }
    if (!clients.has(entry[1])) return `${name}[${i}]: ${entry[0]} → ${entry[1]}: no such client`;
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
  const clients = new Set((state.clients as [string, unknown][]).map(([mac]) => mac));
  const index = checkIndex('clientByIp', state.clientByIp, clients) ?? checkIndex('clientBySerial', state.clientBySerial, clients);
  if (index) return index;
  return checkSettings(state.settings);
}
