/**
 * bramble's plugin contract — the one page a plugin author needs. Built-in plugins
 * (src/plugins/*) and third-party ones import this folder and nothing else of bramble; third
 * parties import it as the package `@bramble/plugin` (the same module is `bramble/plugin` when
 * bramble itself is installed).
 *
 * A plugin is a module exporting `createPlugin(options)`, which returns `definePlugin({...})`:
 *
 * - `name`: `^[a-z][a-z0-9-]{0,31}$`, used in logs, metrics (`bramble_<name>_*`), streams
 *   (`plugin-<name>-*`), settings and /health.
 * - `settings`: a TypeBox object schema of its settings (defaults and descriptions per key, see
 *   settings.ts). bramble stores changes as events, validates them against the schema (and
 *   `checkSettings`), and gives the plugin its values typed: `ctx.settings()`.
 * - `emits`: the event types the plugin appends (`ctx.commands.appendEvent`), each with the
 *   TypeBox schema of its data; data that does not match is refused.
 * - `consumes` + `project(event)`: the plugin's own view, built from the events it names (core
 *   types from the catalogue in events.ts, or its own `emits`). `project` receives them in order,
 *   typed: `switch (event.type)` narrows `event.data` without casts. The core's clients, images,
 *   users and groups need no projecting: read them from `ctx.views` (views.ts).
 * - `snapshot()` / `restore(state)`: optional. The host saves the snapshot with the position of the
 *   last projected event and, at the next start, restores it and delivers only later events.
 * - `start(ctx)`: called once the view (and ctx.views) has caught up. Throwing marks the plugin
 *   `down` in /health with the message; bramble and the other plugins keep running. So does a
 *   module that cannot be loaded or a factory that throws.
 * - `health()`, `stop()`.
 *
 * The packet path serves from memory (the plugin's view and ctx.views) and never waits on the
 * store. What a plugin observes on the wire goes back in through `ctx.commands`.
 */
import type { Static, TObject, TSchema } from '@sinclair/typebox';
import type { CoreEventCatalogue, EventOf, GlobalSettings, RecordedEvent } from './events';
import type { SettingsProblem } from './settings';
import type { ClientRecord, PluginViews } from './views';

export const PLUGIN_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

// ---------------------------------------------------------------------------------------------
// The plugin

/** The plugin's own event types → the TypeBox schema of each one's data. */
export type EventSchemas = Record<string, TSchema>;

/** No own event types (the default). */
export type NoEvents = Record<never, TSchema>;

/** No settings (the default). */
export type NoSettings = TObject<Record<never, TSchema>>;

/** The core catalogue plus a plugin's own event types. */
export type PluginCatalogue<E extends EventSchemas> = CoreEventCatalogue & { [K in keyof E]: Static<E[K]> };

/** The events a plugin's `project` receives: a union discriminated by `type`. */
export type PluginEvent<E extends EventSchemas = NoEvents> = EventOf<PluginCatalogue<E>>;

/** Event type names a plugin may consume. */
export type ConsumableType<E extends EventSchemas = NoEvents> = keyof PluginCatalogue<E> & string;

export interface PluginHealth {
  /** up: serving; degraded: serving with a problem (a rival DHCP server...); down: not serving. */
  status: 'up' | 'degraded' | 'down';
  /** One line a human can act on, e.g. `cannot bind udp/67: EACCES (not root?)`. */
  detail?: string;
  /** Small facts worth showing (bound address, counts...). */
  checks?: Record<string, string | number | boolean | null>;
}

export interface BramblePlugin<E extends EventSchemas = NoEvents, S extends TObject = NoSettings> {
  readonly name: string;
  /** One line for the `plugins` query and the logs. */
  readonly description?: string;
  /** Event types delivered to `project`, in log order. */
  readonly consumes?: readonly NoInfer<ConsumableType<E>>[];
  /** Event types this plugin appends, with the schema of their data. */
  readonly emits?: E;
  /** Schema of this plugin's settings: every key with a default and a description. */
  readonly settings?: S;
  /**
   * Cross-field checks on the whole effective settings (this plugin's values with defaults, and
   * the global settings), run before any change is stored — a change of the global settings
   * included. Return the problems; none means valid.
   */
  checkSettings?(values: NoInfer<Static<S>>, global: GlobalSettings): SettingsProblem[];
  /** Builds the plugin's view. Called in order, before and after `start`. */
  project?(event: NoInfer<PluginEvent<E>>): void | Promise<void>;
  /** The plugin's view as JSON-serialisable data, taken between two `project` calls. */
  snapshot?(): unknown;
  /** Puts back a view from `snapshot()`; throwing discards the snapshot (events are replayed instead). */
  restore?(state: unknown): void;
  /** Bump when the snapshot's shape changes: snapshots of another version are not restored. */
  readonly snapshotVersion?: number;
  /** Called once the view has caught up. Throwing marks the plugin down; the rest keeps running. */
  start(ctx: PluginContext<NoInfer<E>, NoInfer<S>>): void | Promise<void>;
  stop?(): void | Promise<void>;
  health?(): PluginHealth;
}

/** Returns its argument, typed: the event data in `project`, the settings in `ctx`. */
export function definePlugin<E extends EventSchemas = NoEvents, S extends TObject = NoSettings>(
  plugin: BramblePlugin<E, S>,
): BramblePlugin<E, S> {
  return plugin;
}

/** A plugin of any events and settings (what the host holds). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyPlugin = BramblePlugin<any, any>;

/** A module named in BRAMBLE_PLUGINS exports `createPlugin` (or a default export that is one). */
export type PluginFactory = (options: PluginFactoryOptions) => AnyPlugin;

export interface PluginFactoryOptions {
  /** Environment of the process, for plugin-specific variables (prefix them with the plugin name). */
  env: Readonly<Record<string, string | undefined>>;
}

// ---------------------------------------------------------------------------------------------
// What the host gives a started plugin

export interface PluginContext<E extends EventSchemas = NoEvents, S extends TObject = NoSettings> {
  readonly name: string;
  readonly logger: Logger;
  /** Process-level facts. `dataDir` is this plugin's own folder (`<data>/plugins/<name>`), created 0700. */
  readonly runtime: { dataDir: string };
  /** This plugin's settings now: stored values over the schema's defaults. */
  settings(): Static<S>;
  /** The global settings now (environment pins applied). */
  global(): GlobalSettings;
  /**
   * The IPv4 address the Pis reach this server at, for `global` (default: the settings now): the
   * `serverIp` setting when set, else the first IPv4 address of `interface` in bramble's network
   * namespace, else null.
   */
  serverAddress(global?: GlobalSettings): string | null;
  /**
   * Called after every change of this plugin's settings or of the global settings. A listener may
   * return a promise (rebinding a socket, say): the next change is delivered once it has settled,
   * so changes apply one at a time and in order, and `stop()` waits for the one being applied.
   */
  onSettingsChanged(listener: (settings: Static<S>, global: GlobalSettings) => void | Promise<void>): () => void;
  readonly commands: PluginCommands<E>;
  readonly views: PluginViews;
  readonly events: PluginEventReader;
  readonly metrics: PluginMetrics;
  readonly credentials: PluginCredentials;
  readonly images: PluginImages;
  readonly diagnostics: PluginDiagnostics;
}

/**
 * What a plugin puts into an OS image when bramble converts it for network boot. The core's
 * converter writes fstab, the tmpfs mounts and the units; the parts that depend on a protocol
 * plugin come from that plugin: the NFS plugin says where home folders are exported, the LDAP
 * plugin how nslcd reaches the directory and which CA to trust.
 */
export interface ImageConversionContribution {
  homes?: { exportPath: string; nfsVersion: 3 | 4 };
  ldap?: {
    host: string;
    port: number;
    baseDn: string;
    /** StartTLS on `port` (true) or LDAPS (false). */
    startTls: boolean;
    caCertificatePem: string;
    /** Where the CA goes inside the image (absolute). */
    caPath: string;
  };
}

export interface PluginImages {
  /**
   * Registers this plugin's part of an image conversion, asked for at each conversion (null:
   * nothing now, e.g. no server address yet). A later call replaces the earlier provider; the
   * returned function removes it (the host also removes it when the plugin stops).
   */
  provideConversion(provider: () => ImageConversionContribution | null | Promise<ImageConversionContribution | null>): () => void;
}

// ---------------------------------------------------------------------------------------------
// Diagnostics: why a client does not boot

/** How bad a finding is: `error` keeps the client from booting, `warning` may, `info` explains. */
export type DiagnosisSeverity = 'error' | 'warning' | 'info';

export interface DiagnosisFinding {
  /** Stable, upper snake case (`IMAGE_LACKS_MODEL_FILES`, `RIVAL_DHCP_SERVER`...): scripts key on it. */
  code: string;
  severity: DiagnosisSeverity;
  /** One or two sentences for the admin: what is wrong and what to do. No secrets. */
  message: string;
}

/** The client's latest boot as its boot events tell it (`BootStageChanged`), for diagnosis. */
export interface DiagnosisBoot {
  sessionId: string;
  /** The session's stage now (`DHCP`... `BOOTED`, `STALLED`, `FAILED`). */
  stage: string;
  /** The stage it had before it stalled or failed (else the same as `stage`). */
  lastProgressStage: string;
  startedAt: string;
  at: string;
  cause: string | null;
  lastRequest: string | null;
  /** Files the client asked for and did not get, in this session. */
  missing: readonly string[];
}

export interface DiagnosisInput {
  /** Canonical MAC. */
  mac: string;
  /** null: bramble has never seen or registered this MAC. */
  client: ClientRecord | null;
  /** The latest boot session, null when none is recorded (or it is older than the retention). */
  lastBoot: DiagnosisBoot | null;
}

export interface PluginDiagnostics {
  /**
   * Registers this plugin's part of `diagnose(mac)`: asked at each diagnosis, it returns what the
   * plugin knows is wrong for that client (an empty list when nothing). Keep it quick (a few file
   * checks at most): it runs on an admin's request, never on the packet path. A later call replaces
   * the earlier provider; the returned function removes it (the host also does when the plugin stops).
   */
  provide(provider: (input: DiagnosisInput) => DiagnosisFinding[] | Promise<DiagnosisFinding[]>): () => void;
}

/** Password checks against bramble's directory users, so no plugin handles a password hash itself. */
export interface PluginCredentials {
  /**
   * True when `password` is `username`'s password and the user exists and is enabled. Runs bcrypt
   * off the event loop; an unknown or disabled user, or an impossible password (over 72 bytes, a
   * NUL), gives false after the same amount of work, so timing says nothing. Never throws.
   */
  verifyUserPassword(username: string, password: string): Promise<boolean>;
}

export interface DetectClientInput {
  mac: string;
  serial?: string | null;
  model?: string | null;
  ip?: string | null;
  /** How it was seen: `dhcp`, `pxe`, `tftp`... */
  via: string;
  /** Identifies one boot; a known client is recorded again only when this changes. */
  bootId?: string | null;
}

export interface BootFactInput {
  mac: string;
  /** `dhcp.discover`, `dhcp.offered`, `dhcp.acked`, `tftp.file-served`, ... (`^[a-z0-9][a-z0-9._-]{0,63}$`) */
  stage: string;
  ip?: string | null;
  detail?: Record<string, string | number | boolean | null>;
}

/** Result of a command: the position of the last appended event, or null when nothing changed. */
export interface CommandResult {
  position: number | null;
  eventTypes: string[];
}

/**
 * The commands a plugin may send, each recorded with actor `plugin:<name>`. A refused command
 * rejects with an error whose `code` is stable (`VALIDATION`, `CLIENT_NOT_FOUND`, ...).
 */
export interface PluginCommands<E extends EventSchemas = NoEvents> {
  detectClient(input: DetectClientInput): Promise<CommandResult>;
  learnClientAddress(mac: string, ip: string): Promise<CommandResult>;
  reportBootFact(input: BootFactInput): Promise<CommandResult>;
  /** Appends one of the plugin's `emits` types to stream `plugin-<name>-<streamSuffix>`; data is checked against its schema. */
  appendEvent<T extends keyof E & string>(streamSuffix: string, type: T, data: Static<E[T]>): Promise<CommandResult>;
}

/** Read-only access to the event log (for catching up on something the view does not keep). */
export interface PluginEventReader {
  readStream(stream: string): Promise<RecordedEvent[]>;
  readAll(options?: { after?: number; limit?: number; types?: string[]; streamPrefixes?: string[] }): Promise<RecordedEvent[]>;
}

// ---------------------------------------------------------------------------------------------
// Logging and metrics

/**
 * Structured: a message plus fields. Per-packet lines are `debug`. Never put a secret (password,
 * hash, token, key) in a message or a field.
 */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

export type MetricLabels = Record<string, string | number>;

export interface CounterMetric {
  inc(value?: number): void;
  inc(labels: MetricLabels, value?: number): void;
}

export interface GaugeMetric {
  set(value: number): void;
  set(labels: MetricLabels, value: number): void;
  inc(value?: number): void;
  inc(labels: MetricLabels, value?: number): void;
  dec(value?: number): void;
  dec(labels: MetricLabels, value?: number): void;
}

export interface HistogramMetric {
  observe(value: number): void;
  observe(labels: MetricLabels, value: number): void;
}

/** Prometheus metrics on /metrics; names are prefixed `bramble_<plugin>_` (dashes become underscores). */
export interface PluginMetrics {
  counter(name: string, help: string, labelNames?: string[]): CounterMetric;
  gauge(name: string, help: string, labelNames?: string[]): GaugeMetric;
  histogram(name: string, help: string, labelNames?: string[], buckets?: number[]): HistogramMetric;
}
