import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { locateImageTree } from '../domain/image/image-tree';
import { imageDecider } from '../domain/image/image.decider';
import { imageStream } from '../domain/image/image.events';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from '../event-store/event-store.port';
import { ReadModelQueries } from '../projections/read-model-queries';
import { CommandRunner, type CommandOutcome } from './command-runner';
import { DeleteImageCommand, RegisterImageCommand, RenameImageCommand } from './image.commands';

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

export const IMAGE_HANDLERS = [RegisterImageHandler, RenameImageHandler, DeleteImageHandler];
