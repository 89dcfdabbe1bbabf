import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import type { ImageDeleted, ImageEvent, ImageRegistered, ImageRenamed } from './image.events';

// ---------------------------------------------------------------------------------------------
// Commands

export interface RegisterImage {
  type: 'RegisterImage';
  imageId: string;
  name: string;
  /** Absolute path of the image's root tree (see locateImageTree). */
  path: string;
  /** Absolute path of its boot folder, inside `path`. */
  bootPath: string;
}

export interface RenameImage {
  type: 'RenameImage';
  imageId: string;
  name: string;
}

export interface DeleteImage {
  type: 'DeleteImage';
  imageId: string;
  /** MACs of the clients that use the image, from the read model (the handler supplies it). */
  usedBy: string[];
}

export type ImageCommand = RegisterImage | RenameImage | DeleteImage;

// ---------------------------------------------------------------------------------------------
// State

export type ImageState =
  | { status: 'unknown' }
  | { status: 'registered'; imageId: string; name: string; path: string; bootPath: string }
  | { status: 'deleted'; imageId: string };

// ---------------------------------------------------------------------------------------------
// Validation (exported: the client decider checks image ids with it)

/**
 * Image ids appear in stream names (`image-<id>`) and in paths, so they are kept to a safe
 * alphabet: slugs and UUIDs both fit.
 */
export const IMAGE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function validateImageId(imageId: string, field = 'imageId'): void {
  if (typeof imageId !== 'string' || !IMAGE_ID_PATTERN.test(imageId)) {
    throw validationError(field, 'must be 1-64 letters, digits, `_`, `.` or `-`, starting with a letter or digit');
  }
}

const CONTROL_CHARS = /\p{Cc}/u;

/** Trims and checks an image's display name: 1–64 characters, no control characters. */
export function normalizeImageName(name: string): string {
  if (typeof name !== 'string') throw validationError('name', 'must be a string');
  const trimmed = name.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > 64) throw validationError('name', 'must be 1-64 characters');
  if (CONTROL_CHARS.test(trimmed)) throw validationError('name', 'must not contain control characters');
  return trimmed;
}

function validateAbsolutePath(field: 'path' | 'bootPath', value: string): void {
  if (typeof value !== 'string' || !value.startsWith('/')) throw validationError(field, 'must be an absolute path');
  if (value.includes('\0')) throw validationError(field, 'must not contain NUL');
}

function isInside(child: string, parent: string): boolean {
  const base = parent.endsWith('/') ? parent : `${parent}/`;
  return child === parent || child.startsWith(base);
}

// ---------------------------------------------------------------------------------------------
// Decider

function notFound(imageId: string): DomainError {
  return new DomainError(ErrorCode.IMAGE_NOT_FOUND, `image ${imageId} not found`, 'imageId');
}

function decide(command: ImageCommand, state: ImageState): ImageEvent[] {
  switch (command.type) {
    case 'RegisterImage': {
      validateImageId(command.imageId);
      const name = normalizeImageName(command.name);
      validateAbsolutePath('path', command.path);
      validateAbsolutePath('bootPath', command.bootPath);
      if (!isInside(command.bootPath, command.path)) throw validationError('bootPath', 'must be inside path');
      if (state.status === 'registered') {
        throw new DomainError(ErrorCode.IMAGE_EXISTS, `image ${command.imageId} already exists`, 'imageId');
      }
      const event: ImageRegistered = {
        type: 'ImageRegistered',
        data: { imageId: command.imageId, name, path: command.path, bootPath: command.bootPath },
      };
      return [event];
    }
    case 'RenameImage': {
      validateImageId(command.imageId);
      const name = normalizeImageName(command.name);
      if (state.status !== 'registered') throw notFound(command.imageId);
      if (state.name === name) return [];
      const event: ImageRenamed = { type: 'ImageRenamed', data: { imageId: command.imageId, name } };
      return [event];
    }
    case 'DeleteImage': {
      validateImageId(command.imageId);
      if (state.status !== 'registered') throw notFound(command.imageId);
      const usedBy = [...new Set(command.usedBy ?? [])];
      if (usedBy.length > 0) {
        throw new DomainError(
          ErrorCode.IMAGE_IN_USE,
          `image ${command.imageId} is used by ${usedBy.length} client(s): ${usedBy.join(', ')}`,
          'imageId',
        );
      }
      const event: ImageDeleted = { type: 'ImageDeleted', data: { imageId: command.imageId } };
      return [event];
    }
    default: {
      const unknown: never = command;
      throw validationError('type', `unknown command ${(unknown as { type?: string }).type}`);
    }
  }
}

function evolve(state: ImageState, event: ImageEvent | DomainEvent): ImageState {
  const e = event as ImageEvent;
  switch (e.type) {
    case 'ImageRegistered':
      return { status: 'registered', ...e.data };
    case 'ImageRenamed':
      return state.status === 'registered' ? { ...state, name: e.data.name } : state;
    case 'ImageDeleted':
      return { status: 'deleted', imageId: e.data.imageId };
    default:
      return state;
  }
}

export const imageDecider: Decider<ImageState, ImageCommand, ImageEvent> = {
  initialState: () => ({ status: 'unknown' }),
  evolve,
  decide,
};
