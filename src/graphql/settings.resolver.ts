import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { UpdateSettingsCommand } from '../core/commands/system.commands';
import { commandMeta } from '../core/commands/meta';
import type { Settings as SettingsModel } from '../core/domain/settings/settings.events';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import { AuthenticatedGuard, CurrentActor } from './auth';
import { CommandGateway } from './command-gateway';
import { Settings, SettingsInput } from './settings.types';

@Resolver(() => Settings)
@UseGuards(AuthenticatedGuard)
export class SettingsResolver {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly commands: CommandGateway,
  ) {}

  @Query(() => Settings)
  settings(): SettingsModel {
    return this.queries.settings();
  }

  @Mutation(() => Settings, { description: 'Changes the fields given (others keep their values); returns the settings after.' })
  async updateSettings(@CurrentActor() actor: string, @Args('input') input: SettingsInput): Promise<SettingsModel> {
    // Only the fields present in the request: an absent field is "unchanged", null is a value.
    const changes = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<SettingsModel>;
    await this.commands.send(new UpdateSettingsCommand({ changes }, commandMeta(actor)));
    return this.queries.settings();
  }
}
