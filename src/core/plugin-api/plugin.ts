/**
 * bramble's plugin contract. This file (with the types it re-exports) is the ONLY part of the core a
 * plugin may import: built-in plugins (src/plugins/*) and third-party ones alike.
 *
 * A plugin declares the event types it consumes and keeps an in-memory view built only from them
 * (`project`). The host delivers every consumed event from the start of the log, in order, and
 * calls `start` once the view has caught up; later events keep arriving through `project`. Packet
 * paths serve from that view alone and never wait on the store. What a plugin observes on the wire
 * goes back in through `ctx.commands` (commands, not direct appends).
 */
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { Settings } from '../domain/settings/settings.events';
import type { EventFilter, ReadAllOptions, RecordedEvent, SubscribeOptions, Subscription, SubscriptionHandlers } from '../event-store/event-store.port';
import type { Logger } from '../logging/logger';

export type { RecordedEvent, EventFilter, Logger, Settings, Subscription };
export { ClientEventType } from '../domain/client/client.events';
export { UserEventType } from '../domain/user/user.events';
export { GroupEventType } from '../domain/group/group.events';
export { ImageEventType } from '../domain/image/image.events';
export { SettingsEventType } from '../domain/settings/settings.events';
export { BootEventType } from '../domain/boot/boot.events';

export interface PluginHealth {
  /** up: serving; degraded: serving with a problem (rival DHCP server...); down: not serving. */
  status: 'up' | 'degraded' | 'down';
  /** One line a human can act on, e.g. `cannot bind udp/67: EACCES (not root?)`. */
  detail?: string;
  /** Small facts worth showing (bound address, counts...). */
  checks?: Record<string, string | number | boolean | null>;
}

export interface BramblePlugin {
  /** `^[a-z][a-z0-9-]{0,31}$`: used in logs, metrics (`bramble_<name>_...`), streams (`plugin-<name>-...`). */
  readonly name: string;
  /** Event types delivered to `project`. */
  readonly consumes: readonly string[];
  /** Event types this plugin appends through `ctx.commands.appendEvent` (must be declared). */
  readonly emits?: readonly string[];
  /** Projection hook: builds the plugin's view. Called in order, before and after `start`. */
  project?(event: RecordedEvent): void | Promise<void>;
  /** Called once the view has caught up. Throwing (e.g. a port that cannot be bound) marks the
   * plugin down; the rest of bramble keeps running. */
  start(ctx: PluginContext): void | Promise<void>;
  stop?(): void | Promise<void>;
  health?(): PluginHealth;
  /**
   * Validates this plugin's settings (`settings.plugins[name]`) before they are stored; returns
   * `key: problem` or null. Without it the plugin accepts no settings.
   */
  validateSettings?(values: Record<string, unknown>): string | null;
}

/** A module named in BRAMBLE_PLUGINS exports `createPlugin` (or a default export that is one). */
export type PluginFactory = (options: PluginFactoryOptions) => BramblePlugin;

export interface PluginFactoryOptions {
  /** Environment of the process, for plugin-specific variables (prefix them with the plugin name). */
  env: Readonly<Record<string, string | undefined>>;
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
  /** `dhcp.discover`, `dhcp.offered`, `dhcp.acked`, `tftp.file-served`, ... */
  stage: string;
  ip?: string | null;
  detail?: Record<string, string | number | boolean | null>;
}

/** Result of a command: the position of the last appended event, or null when nothing changed. */
export interface CommandResult {
  position: number | null;
  eventTypes: string[];
}

/** The commands a plugin may send. Each is recorded with actor `plugin:<name>`. */
export interface PluginCommands {
  detectClient(input: DetectClientInput): Promise<CommandResult>;
  learnClientAddress(mac: string, ip: string): Promise<CommandResult>;
  reportBootFact(input: BootFactInput): Promise<CommandResult>;
  /** Appends one of the plugin's declared `emits` types to stream `plugin-<name>-<streamSuffix>`. */
  appendEvent(streamSuffix: string, type: string, data: Record<string, unknown>): Promise<CommandResult>;
}

/** Read-only access to the event log. */
export interface PluginEventReader {
  readStream(stream: string): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribe(options: SubscribeOptions, handlers: SubscriptionHandlers): Subscription;
}

export interface PluginMetrics {
  /** Names are prefixed `bramble_<plugin>_` (dashes become underscores). */
  counter(name: string, help: string, labelNames?: string[]): Counter<string>;
  gauge(name: string, help: string, labelNames?: string[]): Gauge<string>;
  histogram(name: string, help: string, labelNames?: string[], buckets?: number[]): Histogram<string>;
}

export interface PluginContext {
  readonly name: string;
  readonly logger: Logger;
  /** Process-level facts: where to keep files, and the pinned interface / server address. */
  readonly runtime: { dataDir: string; interface: string | null; serverIp: string | null };
  /** Effective settings now (environment pins applied). */
  settings(): Settings;
  /** Called after every settings change; returns an unsubscribe function. */
  onSettingsChanged(listener: (settings: Settings) => void): () => void;
  readonly commands: PluginCommands;
  readonly events: PluginEventReader;
  readonly metrics: PluginMetrics;
}

export const PLUGIN_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
