import { createHash, randomBytes } from 'node:crypto';
import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { apiTokenDecider } from '../auth/api-token.decider';
import { AUTH_TOKENS_STREAM } from '../auth/auth.events';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { settingsDecider } from '../domain/settings/settings.decider';
import { SETTINGS_STREAM, type Settings } from '../domain/settings/settings.events';
import { validationError } from '../domain/shared/domain-error';
import { PluginRegistry } from '../plugin-api/plugin-registry';
import { CommandRunner, type CommandOutcome } from './command-runner';
import {
  AppendPluginEventCommand,
  CreateApiTokenCommand,
  IssueApiTokenCommand,
  RevokeApiTokenCommand,
  UpdateSettingsCommand,
  type CreatedApiToken,
} from './system.commands';

@CommandHandler(UpdateSettingsCommand)
export class UpdateSettingsHandler implements ICommandHandler<UpdateSettingsCommand> {
  constructor(
    private readonly runner: CommandRunner,
    private readonly plugins: PluginRegistry,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
  ) {}
  execute({ input, meta }: UpdateSettingsCommand): Promise<CommandOutcome> {
    const pinned: Partial<Record<keyof Settings, string>> = {};
    const changes = { ...input.changes };
    // A pinned field sent back with the value it shows (the environment's) is not a change.
    if (this.config.interface) {
      pinned.interface = 'BRAMBLE_INTERFACE';
      if (changes.interface === this.config.interface) delete changes.interface;
    }
    if (this.config.serverIp) {
      pinned.serverIp = 'BRAMBLE_SERVER_IP';
      if (changes.serverIp === this.config.serverIp) delete changes.serverIp;
    }
    return this.runner.run(SETTINGS_STREAM, settingsDecider, {
      type: 'UpdateSettings', changes, pinned, pluginValidators: this.plugins.settingsValidators(),
    }, meta);
  }
}

/** Issues a token whose digest the caller made (the first admin token, written to a file first). */
@CommandHandler(IssueApiTokenCommand)
export class IssueApiTokenHandler implements ICommandHandler<IssueApiTokenCommand> {
  constructor(private readonly runner: CommandRunner) {}
  async execute({ input, meta }: IssueApiTokenCommand): Promise<CommandOutcome> {
    const { position, events } = await this.runner.run(AUTH_TOKENS_STREAM, apiTokenDecider, { type: 'IssueApiToken', label: input.name, sha256: input.sha256 }, meta);
    return { position, events };
  }
}

/** A new token, returned once: only its SHA-256 is stored, and neither is ever logged. */
@CommandHandler(CreateApiTokenCommand)
export class CreateApiTokenHandler implements ICommandHandler<CreateApiTokenCommand> {
  constructor(private readonly runner: CommandRunner) {}
  async execute({ input, meta }: CreateApiTokenCommand): Promise<CreatedApiToken> {
    const token = randomBytes(32).toString('base64url');
    const sha256 = createHash('sha256').update(token, 'utf8').digest('hex');
    const outcome = await this.runner.run(AUTH_TOKENS_STREAM, apiTokenDecider, { type: 'IssueApiToken', label: input.label, sha256 }, meta);
    return { position: outcome.position, events: outcome.events, label: input.label, token };
  }
}

/** Revokes a token by label; BRAMBLE_ADMIN_TOKEN (`env`) is not the API's to revoke. */
@CommandHandler(RevokeApiTokenCommand)
export class RevokeApiTokenHandler implements ICommandHandler<RevokeApiTokenCommand> {
  constructor(private readonly runner: CommandRunner) {}
  async execute({ input, meta }: RevokeApiTokenCommand): Promise<CommandOutcome> {
    const { position, events } = await this.runner.run(AUTH_TOKENS_STREAM, apiTokenDecider, { type: 'RevokeApiToken', label: input.label }, meta);
    return { position, events };
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

export const SYSTEM_HANDLERS = [
  UpdateSettingsHandler,
  IssueApiTokenHandler,
  CreateApiTokenHandler,
  RevokeApiTokenHandler,
  AppendPluginEventHandler,
];
