/**
 * The image aggregate's command table (stream `image-<id>`). An image's name and its folder are
 * unique, guaranteed by the store: each is claimed in a `unique-<kind>-<key>` stream with an
 * expected revision before the image's own stream is written, and released when the image lets go
 * of it. A claim left behind by a crash between the two appends (its owner does not use the key)
 * is taken over by the next command that wants the key, so the flows converge.
 */
import { createHash } from 'node:crypto';
import type { CommandMeta } from '../domain/shared/command-meta';
import { DomainError, ErrorCode, type ErrorCode as ErrorCodeType } from '../domain/shared/domain-error';
import { imageDecider, normalizeImageName, type ImageState } from '../domain/image/image.decider';
import { imageStream } from '../domain/image/image.events';
import { uniqueKeyDecider, uniqueKeyStream } from '../domain/unique/unique-key.decider';
import type { CommandDeps } from './command-deps';
import type { CommandOutcome } from './command-runner';
import { aggregateTable, flow } from './command-table';
import {
  ActivateImageVersionCommand,
  CreateImageVersionCommand,
  DeleteImageCommand,
  DeleteImageVersionCommand,
  RecordImageCloneCommand,
  RecordImageCommandFailedCommand,
  RecordImageExportCommand,
  RecordImageImportCommand,
  RegisterImageCommand,
  RenameImageCommand,
} from './image.commands';
import type { EventStore } from '../event-store/event-store.port';

type KeyKind = 'image-name' | 'image-path';

const TAKEN: Record<KeyKind, { code: ErrorCodeType; field: string; message: (key: string) => string }> = {
  'image-name': { code: ErrorCode.IMAGE_EXISTS, field: 'name', message: (key) => `an image named ${key} already exists` },
  'image-path': { code: ErrorCode.IMAGE_EXISTS, field: 'path', message: (key) => `the folder ${key} is already registered as an image` },
};

/** `Raspberry Pi OS (Bookworm)` → `raspberry-pi-os-bookworm`. */
export function slugify(name: string): string {
  const slug = name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
  return slug || `image-${createHash('sha256').update(name).digest('hex').slice(0, 8)}`;
}

/**
 * A readable id for a new image named `name`: its slug, or slug-2, slug-3... never one whose
 * stream was used before (ids of deleted images stay retired) nor one in `reserved` (jobs running).
 */
export async function freeImageId(store: EventStore, name: string, reserved: ReadonlySet<string> = new Set()): Promise<string> {
  const base = slugify(name);
  let imageId = base;
  for (let n = 2; reserved.has(imageId) || (await store.readStream(imageStream(imageId), { limit: 1 })).length > 0; n++) {
    imageId = `${base}-${n}`;
  }
  return imageId;
}

/** Runs a command that creates an image under a name: claims the name first (IMAGE_EXISTS when taken). */
async function createNamed(
  d: CommandDeps,
  imageId: string,
  name: string,
  command: Parameters<typeof imageDecider.decide>[0],
  meta: CommandMeta,
): Promise<CommandOutcome> {
  await claim(d, 'image-name', name, imageId, meta);
  try {
    return await d.runner.run(imageStream(imageId), imageDecider, command, meta);
  } catch (error) {
    if (error instanceof DomainError && error.code === ErrorCode.IMAGE_EXISTS) {
      throw new DomainError(ErrorCode.IMAGE_EXISTS, TAKEN['image-name'].message(name), 'name');
    }
    throw error;
  }
}

async function imageState(d: CommandDeps, imageId: string): Promise<ImageState> {
  return (await d.runner.load(imageStream(imageId), imageDecider)).state;
}

/** Whether image `owner` holds `key` right now, by its own stream. */
async function ownerUses(d: CommandDeps, kind: KeyKind, key: string, owner: string): Promise<boolean> {
  const state = await imageState(d, owner);
  if (state.status !== 'registered') return false;
  return kind === 'image-name' ? state.name === key : state.path === key;
}

/** Claims `key` for image `owner`; a claim whose owner no longer uses the key is released first. */
async function claim(d: CommandDeps, kind: KeyKind, key: string, owner: string, meta: CommandMeta): Promise<void> {
  const stream = uniqueKeyStream(kind, key);
  const taken = TAKEN[kind];
  const command = {
    type: 'ClaimKey' as const,
    kind,
    key,
    owner,
    takenCode: taken.code,
    takenMessage: taken.message(key),
    field: taken.field,
  };
  try {
    await d.runner.run(stream, uniqueKeyDecider, command, meta);
  } catch (error) {
    if (!(error instanceof DomainError) || error.code !== taken.code) throw error;
    const holder = (await d.runner.load(stream, uniqueKeyDecider)).state.owner;
    if (holder === null || (await ownerUses(d, kind, key, holder))) throw error;
    await release(d, kind, key, holder, meta);
    await d.runner.run(stream, uniqueKeyDecider, command, meta);
  }
}

function release(d: CommandDeps, kind: KeyKind, key: string, owner: string, meta: CommandMeta): Promise<unknown> {
  return d.runner.run(uniqueKeyStream(kind, key), uniqueKeyDecider, { type: 'ReleaseKey', kind, key, owner }, meta);
}

export const IMAGE_TABLE = aggregateTable(
  { name: 'image', decider: imageDecider, stream: (c) => imageStream('data' in c ? c.data.imageId : c.imageId) },
  (on) => [
    flow(RegisterImageCommand, async (input, meta, d) => {
      const name = normalizeImageName(input.name);
      const tree = d.images.locate(input.path);
      // A readable id; never one whose stream was used before (ids of deleted images stay retired).
      const imageId = await freeImageId(d.store, name);
      await claim(d, 'image-name', name, imageId, meta);
      await claim(d, 'image-path', tree.path, imageId, meta);
      try {
        const outcome = await d.runner.run(
          imageStream(imageId),
          imageDecider,
          {
            type: 'RegisterImage',
            imageId,
            name,
            path: tree.path,
            bootPath: tree.bootPath,
          },
          meta,
        );
        return { ...outcome, imageId };
      } catch (error) {
        // A writer racing this one with the same name took the same id (and so held the claims too).
        if (error instanceof DomainError && error.code === ErrorCode.IMAGE_EXISTS) {
          throw new DomainError(ErrorCode.IMAGE_EXISTS, TAKEN['image-name'].message(name), 'name');
        }
        throw error;
      }
    }),

    flow(RenameImageCommand, async (input, meta, d) => {
      const name = normalizeImageName(input.name);
      const before = await imageState(d, input.imageId);
      if (before.status === 'registered' && before.name !== name) await claim(d, 'image-name', name, input.imageId, meta);
      const renamed = await d.runner.run(
        imageStream(input.imageId),
        imageDecider,
        { type: 'RenameImage', imageId: input.imageId, name },
        meta,
      );
      if (before.status === 'registered' && renamed.events.length > 0) await release(d, 'image-name', before.name, input.imageId, meta);
      return renamed;
    }),

    flow(DeleteImageCommand, async (input, meta, d) => {
      const before = await imageState(d, input.imageId);
      const usedBy = d.queries.clientsUsingImage(input.imageId);
      const deleted = await d.runner.run(
        imageStream(input.imageId),
        imageDecider,
        {
          type: 'DeleteImage',
          imageId: input.imageId,
          usedBy,
        },
        meta,
      );
      if (before.status !== 'registered' || deleted.events.length === 0) return deleted;
      // Freed for others; a crash before this is repaired by the next claim (takeover).
      await release(d, 'image-name', before.name, input.imageId, meta);
      if (!before.managed) await release(d, 'image-path', before.path, input.imageId, meta);
      return deleted;
    }),

    flow(RecordImageImportCommand, (input, meta, d) => {
      const name = normalizeImageName(input.data.name);
      return createNamed(d, input.data.imageId, name, { type: 'RecordImport', data: { ...input.data, name } }, meta);
    }),

    flow(RecordImageCloneCommand, (input, meta, d) => {
      const name = normalizeImageName(input.data.name);
      return createNamed(d, input.data.imageId, name, { type: 'RecordClone', data: { ...input.data, name } }, meta);
    }),

    on(CreateImageVersionCommand, (input) => ({ type: 'CreateVersion', data: input.data, activate: input.activate })),
    on(RecordImageCommandFailedCommand, (input) => ({ type: 'RecordCommandFailed', data: input.data })),
    on(RecordImageExportCommand, (input) => ({ type: 'RecordExport', data: input.data })),
    on(ActivateImageVersionCommand, (input) => ({ type: 'ActivateVersion', imageId: input.imageId, version: input.version })),
    on(DeleteImageVersionCommand, (input, d) => ({
      type: 'DeleteVersion',
      imageId: input.imageId,
      version: input.version,
      bootedBy: d.queries
        .clients()
        .filter((c) => c.bootedImage?.imageId === input.imageId && c.bootedImage.version === input.version)
        .map((c) => c.mac),
    })),
  ],
);
