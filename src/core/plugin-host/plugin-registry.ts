/**
 * The plugin host: loads plugins (the built-in list, then BRAMBLE_PLUGINS), restores each one's
 * snapshot, delivers the events it consumes, starts it once caught up, keeps its snapshots, hands
 * it its settings and views, and reports its health. A plugin that cannot be loaded, whose factory
 * throws, or whose start throws is reported `down` with the reason; bramble and the other plugins
 * keep running.
 */
import { mkdirSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import * as path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '../commands/command-bus';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { AppendPluginEventCommand } from '../commands/system.commands';
import { DetectClientCommand, LearnClientAddressCommand, ReportBootFactCommand } from '../commands/client.commands';
import type { BrambleCommand } from '../commands/command';
import type { CommandOutcome } from '../commands/command-runner';
import type { PluginCatalog } from '../commands/command-deps';
import { commandMeta } from '../commands/meta';
import { effectivePluginSettings, type PluginSettingsSpec } from '../domain/settings/plugin-settings';
import { validationError } from '../domain/shared/domain-error';
import { EVENT_STORE, type EventStore, type RecordedEvent, type Subscription } from '../event-store/event-store.port';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { checkNotAheadOfStore } from '../persistence/checkpoint-file';
import { StoreFingerprint } from '../persistence/store-fingerprint';
import type { GlobalSettings } from '../plugin-api/events';
import type {
  AnyPlugin,
  BootFactInput,
  CommandResult,
  DetectClientInput,
  PluginContext,
  PluginFactory,
  PluginHealth,
  DiagnosisFinding,
  DiagnosisInput,
  ImageConversionContribution,
} from '../plugin-api/plugin';
import { verifyPassword } from '../adapters/bcrypt-password-hasher';
import { ProjectionEngine } from '../projections/projection-engine';
import { ReadModelQueries } from '../projections/read-model-queries';
import { checkPluginShape, loadPluginFactory, PluginLoadError } from './plugin-loader';
import { DEFAULT_SNAPSHOT_POLICY, PluginSnapshotter, snapshotFileOf, type SnapshotPolicy } from './plugin-snapshots';
import { HostViews } from './plugin-views';

export type PluginState = 'loaded' | 'catching-up' | 'started' | 'failed' | 'stopped';

type ConversionProvider = () => ImageConversionContribution | null | Promise<ImageConversionContribution | null>;
type DiagnosisProvider = (input: DiagnosisInput) => DiagnosisFinding[] | Promise<DiagnosisFinding[]>;

/** A plugin's diagnosis answers in time or not at all: one stuck provider must not hang `diagnose`. */
const DIAGNOSIS_PROVIDER_TIMEOUT_MS = 5_000;
/** At most this many findings from one plugin, each message cut to this length. */
const DIAGNOSIS_MAX_FINDINGS = 20;
const DIAGNOSIS_MAX_MESSAGE = 1_000;
type SettingsListener = (settings: Record<string, unknown>, global: GlobalSettings) => void | Promise<void>;

interface Entry {
  /** The plugin's name, or where it came from when it could not be loaded. */
  key: string;
  plugin: AnyPlugin | null;
  source: string;
  state: PluginState;
  failure: string | null;
  subscription: Subscription | null;
  snapshots: PluginSnapshotter | null;
  settingsListeners: Set<SettingsListener>;
  /** The settings change being delivered: the next waits for it (changes apply one at a time, in order). */
  settingsApplying: Promise<void>;
  /** Changes delivered or waiting whose listeners have not settled yet. */
  settingsQueued: number;
  /** Effective settings handed out last, and the stored values they were made from. */
  settings: { stored: Record<string, unknown> | undefined; values: Record<string, unknown>; global: GlobalSettings } | null;
  /** Events projected since start (tests, health). */
  projected: number;
  /** When its start began (snapshot load included), and how long until it was started. */
  startBegan: number;
  startupMs: number | null;
  logger: Logger;
}

/** What the `plugins` query shows of one plugin. */
export interface PluginDescription {
  name: string;
  source: string;
  state: PluginState;
  health: PluginHealth;
  description: string | null;
  consumes: string[];
  emits: string[];
  settings: Record<string, unknown>;
  /** JSON Schema of its settings (null: it has none). */
  settingsSchema: Record<string, unknown> | null;
}

export interface PluginHostOptions {
  snapshots?: SnapshotPolicy;
}

function toResult(outcome: CommandOutcome): CommandResult {
  return { position: outcome.position, eventTypes: outcome.events.map((e) => e.type) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function sameGlobal(a: GlobalSettings, b: GlobalSettings): boolean {
  return a.interface === b.interface && a.serverIp === b.serverIp;
}

@Injectable()
export class PluginRegistry implements PluginCatalog {
  private readonly entries: Entry[] = [];
  private readonly logger: Logger;
  private readonly views: HostViews;
  private options: PluginHostOptions = {};
  /** Each plugin's part of an image conversion (ctx.images.provideConversion), by plugin name. */
  private readonly conversionProviders = new Map<string, ConversionProvider>();
  /** Each plugin's part of `diagnose(mac)` (ctx.diagnostics.provide), by plugin name. */
  private readonly diagnosisProviders = new Map<string, DiagnosisProvider>();

  constructor(
    private readonly commandBus: CommandBus,
    private readonly queries: ReadModelQueries,
    private readonly engine: ProjectionEngine,
    private readonly metrics: Metrics,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly fingerprint: StoreFingerprint,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('plugins');
    this.views = new HostViews(() => engine.state, engine.live$);
  }

  configure(options: PluginHostOptions): void {
    this.options = options;
  }

  /** Instantiates the built-in plugins and those named in BRAMBLE_PLUGINS. Never throws: a bad one is a failed entry. */
  load(factories: readonly PluginFactory[], specifiers: readonly string[] = this.config.plugins): void {
    const all = [
      ...factories.map((factory, i) => ({ make: () => factory({ env: process.env }), source: 'built-in', key: `built-in-${i + 1}` })),
      ...specifiers.map((s) => ({ make: () => loadPluginFactory(s, process.cwd())({ env: process.env }), source: s, key: s })),
    ];
    for (const { make, source, key } of all) {
      try {
        let made: unknown;
        try {
          made = make();
        } catch (error) {
          if (error instanceof PluginLoadError) throw error;
          throw new PluginLoadError(source, `createPlugin() threw: ${(error as Error).message}`);
        }
        const plugin = checkPluginShape(made, source);
        if (this.entries.some((e) => e.key === plugin.name))
          throw new PluginLoadError(source, `a plugin named ${plugin.name} is already loaded`);
        const emits = Object.keys(plugin.emits ?? {});
        const clash = this.entries.find((e) => e.plugin && emits.some((t) => t in (e.plugin!.emits ?? {})));
        if (clash) throw new PluginLoadError(source, `plugin ${clash.key} already emits one of ${emits.join(', ')}`);
        this.engine.registerKnownTypes(emits);
        this.entries.push(this.entry(plugin.name, plugin, source));
        this.logger.info('plugin loaded', { plugin: plugin.name, source });
      } catch (error) {
        const message = (error as Error).message;
        const entry = this.entry(key, null, source);
        entry.state = 'failed';
        entry.failure = message;
        this.entries.push(entry);
        this.logger.error('plugin could not be loaded; bramble keeps running without it', { source, error: message });
      }
    }
  }

  private entry(key: string, plugin: AnyPlugin | null, source: string): Entry {
    return {
      key,
      plugin,
      source,
      state: 'loaded',
      failure: null,
      subscription: null,
      snapshots: null,
      settingsListeners: new Set(),
      settingsApplying: Promise.resolve(),
      settingsQueued: 0,
      settings: null,
      projected: 0,
      startBegan: 0,
      startupMs: null,
      logger: this.logger.child(key),
    };
  }

  names(): string[] {
    return this.entries.filter((e) => e.plugin).map((e) => e.key);
  }

  private loaded(name: string): AnyPlugin | null {
    return this.entries.find((e) => e.plugin && e.key === name)?.plugin ?? null;
  }

  emits(name: string): readonly string[] {
    return Object.keys(this.loaded(name)?.emits ?? {});
  }

  /** The loaded plugins' settings schemas and checks, for the settings decider. */
  settingsSpecs(): Record<string, PluginSettingsSpec> {
    const out: Record<string, PluginSettingsSpec> = {};
    for (const { key, plugin } of this.entries) {
      if (!plugin) continue;
      out[key] = {
        schema: plugin.settings ?? null,
        ...(plugin.checkSettings ? { check: (values, global) => plugin.checkSettings!(values, global) } : {}),
      };
    }
    return out;
  }

  /** A plugin's effective settings (stored values over its defaults), frozen; cached until they change. */
  private settingsOf(entry: Entry): Record<string, unknown> {
    const stored = this.queries.storedSettings().plugins[entry.key];
    if (!entry.settings || entry.settings.stored !== stored) {
      const values = deepFreeze(effectivePluginSettings(entry.plugin?.settings ?? null, stored));
      entry.settings = { stored, values, global: entry.settings?.global ?? this.queries.settings() };
    }
    return entry.settings.values;
  }

  /** Restores snapshots, catches each plugin up, then starts it. Throws only when acknowledged events are missing. */
  async startAll(): Promise<void> {
    const head = await this.store.headPosition();
    const restored = new Map<Entry, { checkpoint: number; state: unknown }>();
    for (const entry of this.entries) {
      const plugin = entry.plugin;
      if (!plugin || entry.state === 'failed') continue;
      entry.startBegan = Date.now();
      const dir = path.join(this.config.dataDir, 'plugins', plugin.name);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!plugin.snapshot) continue;
      entry.snapshots = new PluginSnapshotter(
        plugin,
        snapshotFileOf(dir),
        () => this.fingerprint.get(),
        this.options.snapshots ?? DEFAULT_SNAPSHOT_POLICY,
        entry.logger,
      );
      const saved = await entry.snapshots.load();
      if (!saved || saved.checkpoint === null) continue;
      // A snapshot ahead of the store means acknowledged events are gone: refuse, unless accepted.
      const verdict = checkNotAheadOfStore(`plugin ${plugin.name}'s snapshot`, saved.checkpoint, head, {
        acceptLossAt: this.config.acceptEventLossAt,
        dense: this.config.eventStore.kind === 'sqlite',
      });
      if (verdict === 'accepted') {
        entry.logger.warn('plugin snapshot is ahead of the store; the loss was accepted, replaying from the start', {
          checkpoint: saved.checkpoint,
          head,
        });
        continue;
      }
      restored.set(entry, { checkpoint: saved.checkpoint, state: saved.state });
    }
    this.engine.live$.subscribe((event) => {
      if (event.type === 'SettingsUpdated') this.settingsChanged();
    });
    await Promise.all(this.entries.map((entry) => this.startOne(entry, restored.get(entry))));
  }

  private settingsChanged(): void {
    const global = this.queries.settings();
    for (const entry of this.entries) {
      if (entry.state !== 'started' || !entry.settings) continue;
      const before = entry.settings;
      const values = this.settingsOf(entry);
      if (values === before.values && sameGlobal(before.global, global)) continue;
      entry.settings = { ...entry.settings, global };
      this.deliverSettings(entry, values, global);
    }
  }

  /**
   * Calls the plugin's settings listeners with one change. A change arriving while the previous one
   * is still being applied (a listener's promise has not settled) waits for it; otherwise the
   * listeners are called at once, synchronously.
   */
  private deliverSettings(entry: Entry, values: Record<string, unknown>, global: GlobalSettings): void {
    const listeners = [...entry.settingsListeners];
    const failed = (error: unknown): void => entry.logger.error('plugin settings listener failed', { error: (error as Error).message });
    const apply = (): Promise<void> =>
      Promise.all(
        listeners.map((listener) => {
          try {
            return Promise.resolve(listener(values, global)).catch(failed);
          } catch (error) {
            failed(error);
            return undefined;
          }
        }),
      )
        .then(() => undefined)
        .finally(() => entry.settingsQueued--);
    entry.settingsQueued++;
    entry.settingsApplying = entry.settingsQueued === 1 ? apply() : entry.settingsApplying.then(apply);
  }

  private async startOne(entry: Entry, restored: { checkpoint: number; state: unknown } | undefined): Promise<void> {
    const plugin = entry.plugin;
    if (!plugin || entry.state === 'failed') return;
    const log = entry.logger;
    try {
      entry.state = 'catching-up';
      let after: number | undefined;
      if (restored) {
        try {
          plugin.restore!(restored.state);
          after = restored.checkpoint;
          log.info('plugin view restored from its snapshot', { checkpoint: after });
        } catch (error) {
          log.warn('plugin restore() threw; replaying its events instead', { error: (error as Error).message });
        }
      }
      const consumes = plugin.consumes ?? [];
      if (consumes.length > 0 && plugin.project) {
        const project = plugin.project.bind(plugin) as (event: RecordedEvent) => void | Promise<void>;
        const snapshots = entry.snapshots;
        if (snapshots) snapshots.checkpoint = after;
        entry.subscription = this.store.subscribe(
          { after, filter: { types: [...consumes] } },
          {
            onEvents: async (events) => {
              if (snapshots) snapshots.delivering = true;
              try {
                for (const e of events) {
                  const r = project(e);
                  if (r) await r;
                }
              } finally {
                if (snapshots) snapshots.delivering = false;
              }
              entry.projected += events.length;
              const last = events[events.length - 1];
              if (snapshots && last) snapshots.projected(events.length, last.position);
            },
            onError: (error) => {
              entry.state = 'failed';
              entry.failure = `projection failed: ${error.message}`;
              log.error('plugin projection failed; plugin is down', { error: error.message });
            },
          },
        );
        await entry.subscription.caughtUp;
      }
      this.settingsOf(entry);
      await plugin.start(this.context(entry));
      if (entry.state === 'catching-up') entry.state = 'started';
      entry.startupMs = Date.now() - entry.startBegan;
      log.info('plugin started', { ms: entry.startupMs, eventsProjected: entry.projected });
    } catch (error) {
      entry.state = 'failed';
      entry.failure = (error as Error).message;
      log.error('plugin failed to start; bramble keeps running without it', { error: (error as Error).message });
    }
  }

  private context(entry: Entry): PluginContext<Record<string, never>, never> {
    const plugin = entry.plugin!;
    const name = plugin.name;
    const actor = `plugin:${name}`;
    const prefix = `bramble_${name.replace(/-/g, '_')}_`;
    const run = async (command: BrambleCommand<unknown, CommandOutcome>): Promise<CommandResult> =>
      toResult(await this.commandBus.execute(command));
    const emits = (plugin.emits ?? {}) as Record<string, TSchema>;
    const views = this.views.forPlugin((fn) => this.guard(entry, fn));
    const ctx = {
      name,
      logger: entry.logger,
      runtime: { dataDir: path.join(this.config.dataDir, 'plugins', name) },
      settings: () => this.settingsOf(entry),
      global: () => this.queries.settings(),
      serverAddress: (global?: GlobalSettings) => serverAddress(global ?? this.queries.settings()),
      onSettingsChanged: (listener: SettingsListener) => {
        entry.settingsListeners.add(listener);
        return () => entry.settingsListeners.delete(listener);
      },
      commands: {
        detectClient: (input: DetectClientInput) => run(new DetectClientCommand(input, commandMeta(actor))),
        learnClientAddress: (mac: string, ip: string) => run(new LearnClientAddressCommand({ mac, ip }, commandMeta(actor))),
        reportBootFact: (input: BootFactInput) => run(new ReportBootFactCommand({ ...input, plugin: name }, commandMeta(actor))),
        appendEvent: async (streamSuffix: string, type: string, data: Record<string, unknown>) => {
          const schema = Object.hasOwn(emits, type) ? emits[type] : undefined;
          if (!schema) throw validationError('type', `plugin ${name} did not declare event type ${type} in emits`);
          const problem = Value.Errors(schema, data).First();
          if (problem) throw validationError(`data${problem.path.replace(/\//g, '.')}`, `${type}: ${problem.message}`);
          return run(new AppendPluginEventCommand({ plugin: name, streamSuffix, type, data }, commandMeta(actor)));
        },
      },
      views,
      credentials: {
        verifyUserPassword: async (username: string, password: string) => {
          const user = typeof username === 'string' ? views.users.get(username) : null;
          // No user, or a disabled one: the same bcrypt work against a hash that cannot match.
          const ok = await verifyPassword(password, user?.passwordHash ?? '');
          return ok && user !== null && user.enabled;
        },
      },
      images: {
        provideConversion: (provider: ConversionProvider) => {
          this.conversionProviders.set(name, provider);
          return () => {
            if (this.conversionProviders.get(name) === provider) this.conversionProviders.delete(name);
          };
        },
      },
      diagnostics: {
        provide: (provider: DiagnosisProvider) => {
          this.diagnosisProviders.set(name, provider);
          return () => {
            if (this.diagnosisProviders.get(name) === provider) this.diagnosisProviders.delete(name);
          };
        },
      },
      events: {
        readStream: (stream: string) => this.store.readStream(stream),
        readAll: (options: { after?: number; limit?: number; types?: string[]; streamPrefixes?: string[] } = {}) =>
          this.store.readAll({
            after: options.after,
            limit: Math.min(options.limit ?? 1000, 10_000),
            filter: { types: options.types, streamPrefixes: options.streamPrefixes },
          }),
      },
      metrics: {
        counter: (n: string, help: string, labels?: string[]) => this.metrics.counter(prefix + n, help, labels),
        gauge: (n: string, help: string, labels?: string[]) => this.metrics.gauge(prefix + n, help, labels),
        histogram: (n: string, help: string, labels?: string[], buckets?: number[]) =>
          this.metrics.histogram(prefix + n, help, labels, buckets),
      },
    };
    return ctx as unknown as PluginContext<Record<string, never>, never>;
  }

  private guard(entry: Entry, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      entry.logger.error('plugin listener threw', { error: (error as Error).message });
    }
  }

  private healthOf(entry: Entry): PluginHealth {
    if (entry.state === 'failed') return { status: 'down', detail: entry.failure ?? 'failed' };
    if (entry.state !== 'started') return { status: 'down', detail: entry.state };
    try {
      return entry.plugin!.health?.() ?? { status: 'up' };
    } catch (error) {
      return { status: 'down', detail: `health check threw: ${(error as Error).message}` };
    }
  }

  health(): Record<string, PluginHealth & { state: PluginState; source: string }> {
    const out: Record<string, PluginHealth & { state: PluginState; source: string }> = {};
    for (const entry of this.entries) out[entry.key] = { ...this.healthOf(entry), state: entry.state, source: entry.source };
    return out;
  }

  /** Every plugin, loaded or not, for the API. */
  describe(): PluginDescription[] {
    return this.entries.map((entry) => {
      const p = entry.plugin;
      return {
        name: entry.key,
        source: entry.source,
        state: entry.state,
        health: this.healthOf(entry),
        description: p?.description ?? null,
        consumes: [...(p?.consumes ?? [])],
        emits: Object.keys(p?.emits ?? {}),
        settings: p ? this.settingsOf(entry) : {},
        settingsSchema: p?.settings ? (JSON.parse(JSON.stringify(p.settings)) as Record<string, unknown>) : null,
      };
    });
  }

  /** Events projected by a plugin since start (tests, diagnostics). */
  projectedCount(name: string): number {
    return this.entries.find((e) => e.key === name)?.projected ?? 0;
  }

  /** How long a plugin took from the start of its start-up (snapshot load included) to started; null when not started. */
  startupMs(name: string): number | null {
    return this.entries.find((e) => e.key === name)?.startupMs ?? null;
  }

  /** The address the Pis reach this server at, by the settings now (see PluginContext.serverAddress). */
  serverAddress(): string | null {
    return serverAddress(this.queries.settings());
  }

  /**
   * The started plugins' parts of an image conversion, merged (a provider that throws is logged and
   * left out: the conversion says what is missing).
   */
  async conversionContributions(): Promise<ImageConversionContribution> {
    const merged: ImageConversionContribution = {};
    for (const [name, provider] of this.conversionProviders) {
      const entry = this.entries.find((e) => e.key === name);
      if (entry?.state !== 'started') continue;
      try {
        Object.assign(merged, (await provider()) ?? {});
      } catch (error) {
        entry.logger.error('image conversion provider failed', { error: (error as Error).message });
      }
    }
    return merged;
  }

  /**
   * The started plugins' findings for one client, each tagged with its plugin. A provider that
   * throws, answers junk or takes over 5 s gives one `DIAGNOSIS_PROVIDER_FAILED` warning instead
   * (the admin learns that part of the picture is missing, not a hung request).
   */
  async diagnosisFindings(input: DiagnosisInput): Promise<(DiagnosisFinding & { source: string })[]> {
    const frozen = deepFreeze({ ...input });
    const asked = [...this.diagnosisProviders].flatMap(([name, provider]) => {
      const entry = this.entries.find((e) => e.key === name);
      if (entry?.state !== 'started') return [];
      return [{ name, entry, provider }];
    });
    const answers = await Promise.all(
      asked.map(async ({ name, entry, provider }) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const found = await Promise.race([
            Promise.resolve().then(() => provider(frozen as DiagnosisInput)),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`no answer in ${DIAGNOSIS_PROVIDER_TIMEOUT_MS} ms`)),
                DIAGNOSIS_PROVIDER_TIMEOUT_MS,
              );
            }),
          ]);
          if (!Array.isArray(found)) throw new Error('the provider did not return a list');
          return found.slice(0, DIAGNOSIS_MAX_FINDINGS).map((f) => ({
            code: typeof f?.code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(f.code) ? f.code : 'UNNAMED_FINDING',
            severity: f?.severity === 'error' || f?.severity === 'warning' ? f.severity : ('info' as const),
            message: String(f?.message ?? '').slice(0, DIAGNOSIS_MAX_MESSAGE),
            source: name,
          }));
        } catch (error) {
          entry.logger.warn('diagnosis provider failed', { error: (error as Error).message });
          return [
            {
              code: 'DIAGNOSIS_PROVIDER_FAILED',
              severity: 'warning' as const,
              message: `the ${name} plugin could not check this client: ${(error as Error).message}`.slice(0, DIAGNOSIS_MAX_MESSAGE),
              source: name,
            },
          ];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return answers.flat();
  }

  async stopAll(): Promise<void> {
    for (const entry of [...this.entries].reverse()) {
      await entry.subscription?.close();
      entry.snapshots?.stop();
      if (entry.state === 'started' || entry.state === 'catching-up') await entry.snapshots?.flush();
      if (entry.state === 'started') {
        try {
          await entry.settingsApplying;
          this.conversionProviders.delete(entry.key);
          this.diagnosisProviders.delete(entry.key);
          await entry.plugin!.stop?.();
        } catch (error) {
          entry.logger.error('plugin stop failed', { error: (error as Error).message });
        }
      }
      if (entry.plugin) entry.state = 'stopped';
    }
  }
}

/** `serverIp` when set, else the first IPv4 address of `interface` here, else null. */
export function serverAddress(global: GlobalSettings): string | null {
  if (global.serverIp) return global.serverIp;
  if (!global.interface) return null;
  const addrs = networkInterfaces()[global.interface] ?? [];
  return addrs.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? null;
}
