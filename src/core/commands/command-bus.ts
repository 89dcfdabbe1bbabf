import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import { validationError } from '../domain/shared/domain-error';
import { ReadModelQueries } from '../projections/read-model-queries';
import type { BrambleCommand } from './command';
import type { BootFactSink, CommandDeps, MembershipSettling, PluginCatalog } from './command-deps';
import { CommandRunner } from './command-runner';
import type { CommandConstructor, CommandRoute, CommandTable } from './command-table';
import { IMAGE_TREE_INSPECTOR, PASSWORD_HASHER, type ImageTreeInspector, type PasswordHasher } from './ports';

export const COMMAND_TABLES = Symbol('COMMAND_TABLES');

/** A lone surrogate: half of a UTF-16 pair (`\ud800`), which no UTF-8 store or client can hold. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The path (`fullName`, `values.room`...) of the first string or key in `value` that is not valid
 * Unicode, or null. Every command's input is checked once here, so no such text is ever stored.
 */
export function illFormedText(value: unknown, at: string, depth = 0): string | null {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? at : null;
  if (typeof value !== 'object' || value === null || depth > 32) return null;
  for (const [key, inner] of Object.entries(value)) {
    const here = at ? `${at}.${key}` : key;
    if (LONE_SURROGATE.test(key)) return here;
    const found = illFormedText(inner, here, depth + 1);
    if (found !== null) return found;
  }
  return null;
}
export const PLUGIN_CATALOG = Symbol('PLUGIN_CATALOG');
export const MEMBERSHIP_SETTLING = Symbol('MEMBERSHIP_SETTLING');
export const BOOT_FACTS = Symbol('BOOT_FACTS');

/**
 * Sends each command to its route in the aggregate tables (commands/*.table.ts), by class. The
 * one way commands enter the core: the GraphQL resolvers, the plugin host and bootstrap use it.
 */
@Injectable()
export class CommandBus {
  private readonly routes = new Map<CommandConstructor, CommandRoute>();
  private depsValue: CommandDeps | null = null;

  constructor(
    @Inject(COMMAND_TABLES) tables: readonly CommandTable[],
    private readonly moduleRef: ModuleRef,
    private readonly runner: CommandRunner,
    private readonly queries: ReadModelQueries,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
    @Inject(PASSWORD_HASHER) private readonly passwords: PasswordHasher,
    @Inject(IMAGE_TREE_INSPECTOR) private readonly images: ImageTreeInspector,
  ) {
    for (const table of tables) {
      for (const route of table.routes) {
        if (this.routes.has(route.command)) throw new Error(`${route.command.name} is routed twice (table ${table.name})`);
        this.routes.set(route.command, route);
      }
    }
  }

  /** The plugin host and the membership process manager send commands too: resolved on first use. */
  private deps(): CommandDeps {
    if (!this.depsValue) {
      this.depsValue = {
        runner: this.runner,
        queries: this.queries,
        store: this.store,
        config: this.config,
        passwords: this.passwords,
        images: this.images,
        plugins: this.moduleRef.get<PluginCatalog>(PLUGIN_CATALOG, { strict: false }),
        membership: this.moduleRef.get<MembershipSettling>(MEMBERSHIP_SETTLING, { strict: false }),
        boot: this.moduleRef.get<BootFactSink>(BOOT_FACTS, { strict: false }),
      };
    }
    return this.depsValue;
  }

  async execute<R>(command: BrambleCommand<unknown, R>): Promise<R> {
    const route = this.routes.get(command.constructor as CommandConstructor);
    if (!route) throw new Error(`no route for command ${command.constructor.name}`);
    const bad = illFormedText(command.input, '');
    if (bad !== null) throw validationError(bad || 'input', 'contains a lone UTF-16 surrogate (not valid Unicode text)');
    return (await route.run(command.input, command.meta, this.deps())) as R;
  }

  /** Routed command classes (tests: every command has a route). */
  routedCommands(): CommandConstructor[] {
    return [...this.routes.keys()];
  }
}
