import * as path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { AppendPluginEventCommand } from '../commands/system.commands';
import { DetectClientCommand, LearnClientAddressCommand, ReportBootFactCommand } from '../commands/client.commands';
import type { CommandOutcome } from '../commands/command-runner';
import { commandMeta } from '../commands/meta';
import { SettingsEventType } from '../domain/settings/settings.events';
import { EVENT_STORE, type EventStore, type Subscription } from '../event-store/event-store.port';
import { APP_LOGGER } from '../logging/logging.tokens';
import type { Logger } from '../logging/logger';
import { Metrics } from '../observability/metrics';
import { ProjectionEngine } from '../projections/projection-engine';
import { ReadModelQueries } from '../projections/read-model-queries';
import {
  PLUGIN_NAME_PATTERN,
  type BramblePlugin,
  type CommandResult,
  type PluginContext,
  type PluginFactory,
  type PluginHealth,
} from './plugin';

type PluginState = 'loaded' | 'catching-up' | 'started' | 'failed' | 'stopped';

interface Entry {
  plugin: BramblePlugin;
  source: string;
  state: PluginState;
  failure: string | null;
  subscription: Subscription | null;
  settingsListeners: Set<(s: ReturnType<ReadModelQueries['settings']>) => void>;
}

export class PluginLoadError extends Error {
  constructor(readonly specifier: string, problem: string) {
    super(`plugin ${specifier}: ${problem}`);
    this.name = 'PluginLoadError';
  }
}

function toResult(outcome: CommandOutcome): CommandResult {
  return { position: outcome.position, eventTypes: outcome.events.map((e) => e.type) };
}

/** Loads a third-party plugin module: `createPlugin` export, or a default export that is a factory. */
export function loadPluginFactory(specifier: string, cwd: string): PluginFactory {
  let mod: Record<string, unknown>;
  try {
    const resolved = require.resolve(specifier, { paths: [cwd, path.join(cwd, 'node_modules')] });
    mod = require(resolved) as Record<string, unknown>;
  } catch (error) {
    throw new PluginLoadError(specifier, `cannot be loaded: ${(error as Error).message.split('\n')[0]}`);
  }
  const factory = mod.createPlugin ?? mod.default ?? (mod.default as Record<string, unknown> | undefined)?.createPlugin;
  if (typeof factory !== 'function') throw new PluginLoadError(specifier, 'exports no createPlugin function');
  return factory as PluginFactory;
}

/**
 * Holds every plugin: the built-in list (src/plugins/built-in-plugins.ts, passed in by the app module) then BRAMBLE_PLUGINS, in
 * that order. Each gets a context, its consumed events from the start of the log, and `start`
 * once caught up. A plugin that fails is reported down; the rest of bramble keeps running.
 */
@Injectable()
export class PluginRegistry {
  private readonly entries: Entry[] = [];
  private readonly logger: Logger;

  constructor(
    private readonly commandBus: CommandBus,
    private readonly queries: ReadModelQueries,
    private readonly engine: ProjectionEngine,
    private readonly metrics: Metrics,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
    @Inject(APP_LOGGER) logger: Logger,
  ) {
    this.logger = logger.child('plugins');
  }

  /** Instantiates the built-in plugins and those named in BRAMBLE_PLUGINS. Throws on a bad one. */
  load(factories: readonly PluginFactory[], specifiers: readonly string[] = this.config.plugins): void {
    const all: { factory: PluginFactory; source: string }[] = [
      ...factories.map((factory) => ({ factory, source: 'built-in' })),
      ...specifiers.map((s) => ({ factory: loadPluginFactory(s, process.cwd()), source: s })),
    ];
    for (const { factory, source } of all) {
      const plugin = factory({ env: process.env });
      if (!plugin || typeof plugin.start !== 'function' || !Array.isArray(plugin.consumes)) {
        throw new PluginLoadError(source, 'createPlugin() did not return a plugin (name, consumes, start)');
      }
      if (!PLUGIN_NAME_PATTERN.test(plugin.name)) throw new PluginLoadError(source, `bad name ${JSON.stringify(plugin.name)}`);
      if (this.entries.some((e) => e.plugin.name === plugin.name)) throw new PluginLoadError(source, `a plugin named ${plugin.name} is already loaded`);
      this.entries.push({ plugin, source, state: 'loaded', failure: null, subscription: null, settingsListeners: new Set() });
      this.engine.registerKnownTypes(plugin.emits ?? []);
      this.logger.info('plugin loaded', { plugin: plugin.name, source });
    }
  }

  names(): string[] {
    return this.entries.map((e) => e.plugin.name);
  }

  emits(name: string): readonly string[] {
    return this.entries.find((e) => e.plugin.name === name)?.plugin.emits ?? [];
  }

  settingsValidators(): Record<string, (values: Record<string, unknown>) => string | null> {
    const out: Record<string, (values: Record<string, unknown>) => string | null> = {};
    for (const { plugin } of this.entries) {
      out[plugin.name] = plugin.validateSettings
        ? (values) => plugin.validateSettings!(values)
        : (values) => (Object.keys(values).length ? `${Object.keys(values)[0]}: this plugin has no settings` : null);
    }
    return out;
  }

  /** Catches each plugin up on its events, then starts it. Never throws: failures become health. */
  async startAll(): Promise<void> {
    this.engine.live$.subscribe((event) => {
      if (event.type !== SettingsEventType.SettingsUpdated) return;
      const settings = this.queries.settings();
      for (const entry of this.entries) for (const l of entry.settingsListeners) this.safely(entry, () => l(settings));
    });
    await Promise.all(this.entries.map((entry) => this.startOne(entry)));
  }

  private async startOne(entry: Entry): Promise<void> {
    const { plugin } = entry;
    const log = this.logger.child(plugin.name);
    try {
      entry.state = 'catching-up';
      if (plugin.consumes.length > 0 && plugin.project) {
        const project = plugin.project.bind(plugin);
        entry.subscription = this.store.subscribe(
          { filter: { types: [...plugin.consumes] } },
          {
            onEvents: async (events) => {
              for (const e of events) await project(e);
            },
            onError: (error) => {
              entry.state = 'failed';
              entry.failure = `projection failed: ${error.message}`;
              log.error('plugin projection failed; plugin is down', { error });
            },
          },
        );
        await entry.subscription.caughtUp;
      }
      await plugin.start(this.context(entry, log));
      if (entry.state === 'catching-up') entry.state = 'started';
      log.info('plugin started');
    } catch (error) {
      entry.state = 'failed';
      entry.failure = (error as Error).message;
      log.error('plugin failed to start; bramble keeps running without it', { error: (error as Error).message });
    }
  }

  private context(entry: Entry, logger: Logger): PluginContext {
    const name = entry.plugin.name;
    const actor = `plugin:${name}`;
    const prefix = `bramble_${name.replace(/-/g, '_')}_`;
    const run = async (command: object): Promise<CommandResult> => toResult(await this.commandBus.execute(command as never));
    return {
      name,
      logger,
      runtime: { dataDir: this.config.dataDir, interface: this.config.interface, serverIp: this.config.serverIp },
      settings: () => this.queries.settings(),
      onSettingsChanged: (listener) => {
        entry.settingsListeners.add(listener);
        return () => entry.settingsListeners.delete(listener);
      },
      commands: {
        detectClient: (input) => run(new DetectClientCommand(input, commandMeta(actor))),
        learnClientAddress: (mac, ip) => run(new LearnClientAddressCommand({ mac, ip }, commandMeta(actor))),
        reportBootFact: (input) => run(new ReportBootFactCommand({ ...input, plugin: name }, commandMeta(actor))),
        appendEvent: (streamSuffix, type, data) =>
          run(new AppendPluginEventCommand({ plugin: name, streamSuffix, type, data }, commandMeta(actor))),
      },
      events: {
        readStream: (stream) => this.store.readStream(stream),
        readAll: (options) => this.store.readAll(options),
        subscribe: (options, handlers) => this.store.subscribe(options, handlers),
      },
      metrics: {
        counter: (n, help, labels) => this.metrics.counter(prefix + n, help, labels),
        gauge: (n, help, labels) => this.metrics.gauge(prefix + n, help, labels),
        histogram: (n, help, labels, buckets) => this.metrics.histogram(prefix + n, help, labels, buckets),
      },
    };
  }

  private safely(entry: Entry, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.logger.child(entry.plugin.name).error('plugin listener threw', { error: (error as Error).message });
    }
  }

  health(): Record<string, PluginHealth & { state: PluginState; source: string }> {
    const out: Record<string, PluginHealth & { state: PluginState; source: string }> = {};
    for (const entry of this.entries) {
      let h: PluginHealth;
      if (entry.state === 'failed') h = { status: 'down', detail: entry.failure ?? 'failed' };
      else if (entry.state !== 'started') h = { status: 'down', detail: entry.state };
      else {
        try {
          h = entry.plugin.health?.() ?? { status: 'up' };
        } catch (error) {
          h = { status: 'down', detail: `health check threw: ${(error as Error).message}` };
        }
      }
      out[entry.plugin.name] = { ...h, state: entry.state, source: entry.source };
    }
    return out;
  }

  async stopAll(): Promise<void> {
    for (const entry of [...this.entries].reverse()) {
      await entry.subscription?.close();
      if (entry.state === 'started') {
        try {
          await entry.plugin.stop?.();
        } catch (error) {
          this.logger.child(entry.plugin.name).error('plugin stop failed', { error: (error as Error).message });
        }
      }
      entry.state = 'stopped';
    }
  }
}
