import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { AUTH_TOKENS_STREAM, AuthEventType } from '../auth/auth.events';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { settingsDecider } from '../domain/settings/settings.decider';
import { SETTINGS_STREAM, type GlobalSettings } from '../domain/settings/settings.events';
import { validationError } from '../domain/shared/domain-error';
import { PluginRegistry } from '../plugin-host/plugin-registry';
import { CommandRunner, type CommandOutcome } from './command-runner';
import { ReadModelQueries } from '../projections/read-model-queries';
import { AppendPluginEventCommand, IssueApiTokenCommand, UpdatePluginSettingsCommand, UpdateSettingsCommand } from './system.commands';

/** Where the environment pins a global setting: field → variable. */
function pinsOf(config: BrambleConfig): Partial<Record<keyof GlobalSettings, string>> {
  return {
    ...(config.interface ? { interface: 'BRAMBLE_INTERFACE' } : {}),
    ...(config.serverIp ? { serverIp: 'BRAMBLE_SERVER_IP' } : {}),
  };
}

@CommandHandler(UpdateSettingsCommand)
export class UpdateSettingsHandler implements ICommandHandler<UpdateSettingsCommand> {
  constructor(
    private readonly runner: CommandRunner,
    private readonly plugins: PluginRegistry,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
  ) {}
  execute({ input, meta }: UpdateSettingsCommand): Promise<CommandOutcome> {
    const changes = { ...input.changes };
    // A pinned field sent back with the value it shows (the environment's) is not a change.
    if (this.config.interface && changes.interface === this.config.interface) delete changes.interface;
    if (this.config.serverIp && changes.serverIp === this.config.serverIp) delete changes.serverIp;
    return this.runner.run(SETTINGS_STREAM, settingsDecider, {
      type: 'UpdateGlobalSettings', changes, pinned: pinsOf(this.config), plugins: this.plugins.settingsSpecs(),
    }, meta);
  }
}

@CommandHandler(UpdatePluginSettingsCommand)
export class UpdatePluginSettingsHandler implements ICommandHandler<UpdatePluginSettingsCommand> {
  constructor(
    private readonly runner: CommandRunner,
    private readonly plugins: PluginRegistry,
    private readonly queries: ReadModelQueries,
  ) {}
  execute({ input, meta }: UpdatePluginSettingsCommand): Promise<CommandOutcome> {
    return this.runner.run(SETTINGS_STREAM, settingsDecider, {
      type: 'UpdatePluginSettings', plugin: input.plugin, set: input.values, unset: input.reset ?? [],
      global: this.queries.settings(), plugins: this.plugins.settingsSpecs(),
    }, meta);
  }
}

@CommandHandler(IssueApiTokenCommand)
export class IssueApiTokenHandler implements ICommandHandler<IssueApiTokenCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: IssueApiTokenCommand): Promise<CommandOutcome> {
    if (!/^[0-9a-f]{64}$/.test(input.sha256)) throw validationError('sha256', 'not a SHA-256 hex digest');
    return this.runner.record(AUTH_TOKENS_STREAM, [{ type: AuthEventType.ApiTokenIssued, data: { name: input.name, sha256: input.sha256 } }], meta);
  }
}

/** A plugin's own facts, in its own streams `plugin-<name>-<suffix>`; only types it declared. */
@CommandHandler(AppendPluginEventCommand)
export class AppendPluginEventHandler implements ICommandHandler<AppendPluginEventCommand> {
  constructor(private readonly runner: CommandRunner, private readonly plugins: PluginRegistry) {}
  execute({ input, meta }: AppendPluginEventCommand): Promise<CommandOutcome> {
    if (!this.plugins.emits(input.plugin).includes(input.type)) {
      throw validationError('type', `plugin ${input.plugin} did not declare event type ${input.type} in emits`);
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/.test(input.streamSuffix)) {
      throw validationError('streamSuffix', 'must match ^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$');
    }
    return this.runner.record(`plugin-${input.plugin}-${input.streamSuffix}`, [{ type: input.type, data: input.data }], meta);
  }
}

export const SYSTEM_HANDLERS = [UpdateSettingsHandler, UpdatePluginSettingsHandler, IssueApiTokenHandler, AppendPluginEventHandler];
