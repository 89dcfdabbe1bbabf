import { isIPv4 } from 'node:net';
import * as path from 'node:path';
import { LOG_LEVELS, type LogLevel } from '../logging/logger';

/**
 * bramble's process configuration: environment variables with the `BRAMBLE_` prefix, validated
 * once at start. An error names the key. Everything an admin changes at run time lives in the
 * settings stream instead (see domain/settings).
 */
export interface BrambleConfig {
  dataDir: string;
  /** Where imported, cloned and new versions of images live (`<dataDir>/images`; BRAMBLE_IMAGES_DIR). */
  imagesDir: string;
  httpHost: string;
  httpPort: number;
  /** `sqlite` (default, `<dataDir>/events.db`) or a `kurrentdb://` connection string. */
  eventStore: { kind: 'sqlite'; file: string } | { kind: 'kurrentdb'; connectionString: string };
  /** When set, this token is an admin token (compared by hash; never logged). */
  adminToken: string | null;
  /** Module specifiers of third-party plugins, loaded with require(). */
  plugins: string[];
  /** Pins the `interface` setting. */
  interface: string | null;
  /** Pins the `serverIp` setting. */
  serverIp: string | null;
  logLevel: LogLevel;
  /**
   * BRAMBLE_ACCEPT_EVENT_LOSS: the event store's head position at which the admin accepts that
   * acknowledged events are missing (a checkpoint is ahead of the store). Null: refuse such a start.
   */
  acceptEventLossAt: number | null;
}

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`config: ${key}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** One row per variable: the README's configuration table is generated from the same facts. */
export const CONFIG_KEYS = [
  'BRAMBLE_DATA_DIR',
  'BRAMBLE_IMAGES_DIR',
  'BRAMBLE_HTTP_HOST',
  'BRAMBLE_HTTP_PORT',
  'BRAMBLE_EVENT_STORE',
  'BRAMBLE_ADMIN_TOKEN',
  'BRAMBLE_PLUGINS',
  'BRAMBLE_INTERFACE',
  'BRAMBLE_SERVER_IP',
  'BRAMBLE_LOG_LEVEL',
  'BRAMBLE_ACCEPT_EVENT_LOSS',
] as const;

/** Parses and validates the environment. Throws ConfigError naming the first bad key. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): BrambleConfig {
  const get = (key: string): string | undefined => {
    const v = env[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };

  const known = new Set<string>(CONFIG_KEYS);
  for (const key of Object.keys(env)) {
    if (key.startsWith('BRAMBLE_') && !known.has(key) && !key.startsWith('BRAMBLE_TEST_')) {
      throw new ConfigError(key, `unknown variable (known: ${CONFIG_KEYS.join(', ')})`);
    }
  }

  const dataDir = path.resolve(cwd, get('BRAMBLE_DATA_DIR') ?? './data');

  const imagesDir = path.resolve(cwd, get('BRAMBLE_IMAGES_DIR') ?? path.join(dataDir, 'images'));
  const httpHost = get('BRAMBLE_HTTP_HOST') ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:_-]+$/.test(httpHost)) throw new ConfigError('BRAMBLE_HTTP_HOST', 'not a host name or address');

  const portText = get('BRAMBLE_HTTP_PORT') ?? '3000';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new ConfigError('BRAMBLE_HTTP_PORT', `not a port number (0-65535): ${portText}`);
  }
  const httpPort = Number(portText);

  const storeText = get('BRAMBLE_EVENT_STORE') ?? 'sqlite';
  let eventStore: BrambleConfig['eventStore'];
  if (storeText === 'sqlite') {
    eventStore = { kind: 'sqlite', file: path.join(dataDir, 'events.db') };
  } else if (/^(kurrentdb|kurrentdb\+discover|esdb|esdb\+discover):\/\//.test(storeText)) {
    eventStore = { kind: 'kurrentdb', connectionString: storeText };
  } else {
    throw new ConfigError('BRAMBLE_EVENT_STORE', 'expected "sqlite" or a kurrentdb:// connection string');
  }

  // Taken as given, not trimmed: a token is sent as `Authorization: Bearer <token>`, which ends at
  // the first space, so a token with whitespace could never authenticate (a locked-out install).
  const rawToken = env.BRAMBLE_ADMIN_TOKEN;
  const adminToken = rawToken === undefined || rawToken === '' ? null : rawToken;
  if (adminToken !== null && /\s/.test(adminToken)) {
    throw new ConfigError(
      'BRAMBLE_ADMIN_TOKEN',
      'must not contain whitespace (spaces, tabs or line breaks): it could never be sent in an Authorization header',
    );
  }
  if (adminToken !== null && adminToken.length < 16) {
    throw new ConfigError('BRAMBLE_ADMIN_TOKEN', 'must be at least 16 characters');
  }
  if (adminToken !== null && adminToken.length > 512) {
    throw new ConfigError('BRAMBLE_ADMIN_TOKEN', 'must be at most 512 characters');
  }
  if (adminToken !== null && !/^[\x21-\x7e]+$/.test(adminToken)) {
    throw new ConfigError('BRAMBLE_ADMIN_TOKEN', 'must be printable ASCII');
  }

  const plugins = (get('BRAMBLE_PLUGINS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

  const iface = get('BRAMBLE_INTERFACE') ?? null;
  if (iface !== null && !/^[A-Za-z0-9_.:-]{1,15}$/.test(iface)) {
    throw new ConfigError('BRAMBLE_INTERFACE', `not an interface name: ${iface}`);
  }

  const serverIp = get('BRAMBLE_SERVER_IP') ?? null;
  if (serverIp !== null && !isIPv4(serverIp)) throw new ConfigError('BRAMBLE_SERVER_IP', `not an IPv4 address: ${serverIp}`);

  const logLevel = (get('BRAMBLE_LOG_LEVEL') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('BRAMBLE_LOG_LEVEL', `expected one of ${LOG_LEVELS.join(', ')}`);
  }

  const lossText = get('BRAMBLE_ACCEPT_EVENT_LOSS');
  if (lossText !== undefined && (!/^\d{1,15}$/.test(lossText) || !Number.isSafeInteger(Number(lossText)))) {
    throw new ConfigError('BRAMBLE_ACCEPT_EVENT_LOSS', `not a position (the event store's head, as the refusal named it): ${lossText}`);
  }
  const acceptEventLossAt = lossText === undefined ? null : Number(lossText);

  return {
    dataDir,
    imagesDir,
    httpHost,
    httpPort,
    eventStore,
    adminToken,
    plugins,
    interface: iface,
    serverIp,
    logLevel,
    acceptEventLossAt,
  };
}

export const BRAMBLE_CONFIG = Symbol('BRAMBLE_CONFIG');
