import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { AUTH_TOKENS_STREAM, AuthEventType } from '../auth/auth.events';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../config/config';
import { locateImageTree } from '../domain/image/image-tree';
import { imageDecider } from '../domain/image/image.decider';
import { imageStream } from '../domain/image/image.events';
import { settingsDecider } from '../domain/settings/settings.decider';
import { SETTINGS_STREAM, type Settings } from '../domain/settings/settings.events';
import { DomainError, ErrorCode, validationError } from '../domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import { PluginRegistry } from '../plugin-api/plugin-registry';
import { ReadModelQueries } from '../projections/read-model-queries';
import { CommandRunner, type CommandOutcome } from './command-runner';
import {
  AppendPluginEventCommand,
  DeleteImageCommand,
  IssueApiTokenCommand,
  RegisterImageCommand,
  RenameImageCommand,
  UpdateSettingsCommand,
} from './image.commands';

/** `Raspberry Pi OS (Bookworm)` → `raspberry-pi-os-bookworm`. */
export function slugify(name: string): string {
  const slug = name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48);
  return slug || 'image';
}

@CommandHandler(RegisterImageCommand)
export class RegisterImageHandler implements ICommandHandler<RegisterImageCommand> {
  constructor(
    private readonly runner: CommandRunner,
    private readonly queries: ReadModelQueries,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}
  async execute({ input, meta }: RegisterImageCommand): Promise<{ imageId: string } & CommandOutcome> {
    const name = input.name.trim();
    if (this.queries.images().some((i) => i.name === name)) {
      throw new DomainError(ErrorCode.IMAGE_EXISTS, `an image named ${name} already exists`);
    }
    const tree = locateImageTree(input.path);
    // A readable id; never one whose stream was used before (ids of deleted images stay retired).
    const base = slugify(name);
    let imageId = base;
    for (let n = 2; (await this.store.readStream(imageStream(imageId), { limit: 1 })).length > 0; n++) imageId = `${base}-${n}`;
    const outcome = await this.runner.run(imageStream(imageId), imageDecider, {
      type: 'RegisterImage', imageId, name, path: tree.path, bootPath: tree.bootPath,
    }, meta);
    return { ...outcome, imageId };
  }
}

@CommandHandler(RenameImageCommand)
export class RenameImageHandler implements ICommandHandler<RenameImageCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  execute({ input, meta }: RenameImageCommand): Promise<CommandOutcome> {
    const name = input.name.trim();
    if (this.queries.images().some((i) => i.name === name && i.id !== input.imageId)) {
      throw new DomainError(ErrorCode.IMAGE_EXISTS, `an image named ${name} already exists`);
    }
    return this.runner.run(imageStream(input.imageId), imageDecider, { type: 'RenameImage', imageId: input.imageId, name }, meta);
  }
}

@CommandHandler(DeleteImageCommand)
export class DeleteImageHandler implements ICommandHandler<DeleteImageCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  execute({ input, meta }: DeleteImageCommand): Promise<CommandOutcome> {
    const usedBy = this.queries.clientsUsingImage(input.imageId);
    return this.runner.run(imageStream(input.imageId), imageDecider, { type: 'DeleteImage', imageId: input.imageId, usedBy }, meta);
  }
}

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

export const IMAGE_AND_SETTINGS_HANDLERS = [
  RegisterImageHandler,
  RenameImageHandler,
  DeleteImageHandler,
  UpdateSettingsHandler,
  IssueApiTokenHandler,
  AppendPluginEventHandler,
];
