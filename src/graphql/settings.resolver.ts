import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { UpdatePluginSettingsCommand, UpdateSettingsCommand } from '../core/commands/system.commands';
import { commandMeta } from '../core/commands/meta';
import type { GlobalSettings } from '../core/domain/settings/settings.events';
import { DomainError, ErrorCode, validationError } from '../core/domain/shared/domain-error';
import { PluginRegistry, type PluginDescription } from '../core/plugin-host/plugin-registry';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import { AuthenticatedGuard, CurrentActor } from './auth';
import { CommandGateway } from './command-gateway';
import { JSONScalar } from './json.scalar';
import { Plugin, Settings, SettingsInput } from './settings.types';

function toPlugin(p: PluginDescription): Plugin {
  return {
    name: p.name,
    source: p.source,
    state: p.state,
    status: p.health.status,
    detail: p.health.detail ?? null,
    checks: p.health.checks ?? null,
    description: p.description,
    consumes: p.consumes,
    emits: p.emits,
    settings: p.settings,
    settingsSchema: p.settingsSchema,
  };
}

@Resolver(() => Settings)
@UseGuards(AuthenticatedGuard)
export class SettingsResolver {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly registry: PluginRegistry,
    private readonly commands: CommandGateway,
  ) {}

  @Query(() => Settings)
  settings(): GlobalSettings {
    return this.current();
  }

  /** The global settings with the boot ones' defaults filled in. */
  private current(): GlobalSettings {
    return { ...this.queries.settings(), ...this.queries.bootSettings() };
  }

  @Mutation(() => Settings, { description: 'Changes the global settings given (others keep their values); returns them after.' })
  async updateSettings(@CurrentActor() actor: string, @Args('input') input: SettingsInput): Promise<GlobalSettings> {
    // Only the fields present in the request: an absent field is "unchanged", null is a value
    // (but not for the boot settings, which always have one: null there is "unchanged" too).
    const changes = Object.fromEntries(
      Object.entries({ ...input }).filter(([k, v]) => v !== undefined && !(v === null && k.startsWith('boot'))),
    ) as Partial<GlobalSettings>;
    if (changes.bootTimeouts) changes.bootTimeouts = { ...changes.bootTimeouts };
    await this.commands.send(new UpdateSettingsCommand({ changes }, commandMeta(actor)));
    return this.current();
  }

  @Query(() => [Plugin], { description: 'Every plugin, with its health, events and settings (and their JSON Schema).' })
  plugins(): Plugin[] {
    return this.registry.describe().map(toPlugin);
  }

  @Query(() => Plugin, { nullable: true })
  plugin(@Args('name') name: string): Plugin | null {
    const found = this.registry.describe().find((p) => p.name === name);
    return found ? toPlugin(found) : null;
  }

  @Mutation(() => Plugin, {
    description:
      "Sets the keys given of one plugin's settings (others keep their values) and returns the plugin. `reset` returns keys to their defaults. " +
      'A bad value is a VALIDATION error whose `extensions.field` is `<plugin>.<key>`.',
  })
  async updatePluginSettings(
    @CurrentActor() actor: string,
    @Args('plugin') plugin: string,
    @Args('values', { type: () => JSONScalar }) values: unknown,
    @Args('reset', { type: () => [String], nullable: true }) reset?: string[] | null,
  ): Promise<Plugin> {
    if (typeof values !== 'object' || values === null || Array.isArray(values))
      throw validationError('values', 'must be an object of settings');
    await this.commands.send(
      new UpdatePluginSettingsCommand({ plugin, values: values as Record<string, unknown>, reset: reset ?? [] }, commandMeta(actor)),
    );
    const found = this.registry.describe().find((p) => p.name === plugin);
    if (!found) throw new DomainError(ErrorCode.NOT_FOUND, `plugin ${plugin} not found`);
    return toPlugin(found);
  }
}
