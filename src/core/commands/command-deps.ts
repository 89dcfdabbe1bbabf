import type { BrambleConfig } from '../config/config';
import type { CommandMeta } from '../domain/shared/command-meta';
import type { BootFactInput } from '../plugin-api/plugin';
import type { PluginSettingsSpec } from '../domain/settings/plugin-settings';
import type { EventStore } from '../event-store/event-store.port';
import type { ReadModelQueries } from '../projections/read-model-queries';
import type { CommandOutcome, CommandRunner } from './command-runner';
import type { ImageTreeInspector, PasswordHasher } from './ports';

/** What the loaded plugins tell the command side (implemented by the plugin host). */
export interface PluginCatalog {
  settingsSpecs(): Record<string, PluginSettingsSpec>;
  emits(plugin: string): readonly string[];
}

/** What flows wait for after a user change: the membership process manager. */
export interface MembershipSettling {
  /**
   * Resolves once the process manager has handled every user event up to the outcome's
   * position; returns the outcome with the position of the last group change it made for them.
   */
  settled(outcome: CommandOutcome): Promise<CommandOutcome>;
}

/** Where boot facts go: the live boot sessions (core/boot/boot-sessions.ts). */
export interface BootFactSink {
  report(fact: BootFactInput & { plugin: string }, meta: CommandMeta): Promise<CommandOutcome>;
}

/** Everything a command table may use. Handlers read; only the runner writes. */
export interface CommandDeps {
  runner: CommandRunner;
  queries: ReadModelQueries;
  store: EventStore;
  config: BrambleConfig;
  passwords: PasswordHasher;
  images: ImageTreeInspector;
  plugins: PluginCatalog;
  membership: MembershipSettling;
  boot: BootFactSink;
}
