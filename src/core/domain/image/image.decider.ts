import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import type {
  ImageClonedData,
  ImageCommandFailedData,
  ImageExportedData,
  ImageImportedData,
  ImageVersionCreatedData,
} from '../../plugin-api/events';
import type { ImageEvent } from './image.events';

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

/** Records a finished import (the tree is already in place at `data.path`). */
export interface RecordImport {
  type: 'RecordImport';
  data: ImageImportedData;
}

/** Records a finished clone of another image's version (the tree is in place). */
export interface RecordClone {
  type: 'RecordClone';
  data: ImageClonedData;
}

export interface RenameImage {
  type: 'RenameImage';
  imageId: string;
  name: string;
}

/** Records a new version whose tree is in place; `activate` makes it the one Pis boot next. */
export interface CreateVersion {
  type: 'CreateVersion';
  data: ImageVersionCreatedData;
  activate: boolean;
}

export interface RecordCommandFailed {
  type: 'RecordCommandFailed';
  data: ImageCommandFailedData;
}

export interface ActivateVersion {
  type: 'ActivateVersion';
  imageId: string;
  version: number;
}

export interface DeleteVersion {
  type: 'DeleteVersion';
  imageId: string;
  version: number;
  /** MACs of the clients that booted this version and have not rebooted since (from the read model). */
  bootedBy: string[];
}

export interface RecordExport {
  type: 'RecordExport';
  data: ImageExportedData;
}

export interface DeleteImage {
  type: 'DeleteImage';
  imageId: string;
  /** MACs of the clients that use the image, from the read model (the handler supplies it). */
  usedBy: string[];
}

export type ImageCommand =
  | RegisterImage
  | RecordImport
  | RecordClone
  | RenameImage
  | CreateVersion
  | RecordCommandFailed
  | ActivateVersion
  | DeleteVersion
  | RecordExport
  | DeleteImage;

// ---------------------------------------------------------------------------------------------
// State

export interface VersionState {
  version: number;
  path: string;
  bootPath: string;
}

export type ImageState =
  | { status: 'unknown' }
  | {
      status: 'registered';
      imageId: string;
      name: string;
      /** Version 1's tree: the registered folder (claimed as unique), or the imported/cloned tree. */
      path: string;
      bootPath: string;
      /** Whether bramble made the trees (imported, cloned) rather than the admin (registered). */
      managed: boolean;
      versions: VersionState[];
      active: number;
      /** The number the next version gets (numbers are never reused). */
      nextVersion: number;
    }
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

function versionNotFound(imageId: string, version: number): DomainError {
  return new DomainError(ErrorCode.IMAGE_VERSION_NOT_FOUND, `image ${imageId} has no version ${version}`, 'version');
}

type Registered = Extract<ImageState, { status: 'registered' }>;

function mustExist(state: ImageState, imageId: string): Registered {
  validateImageId(imageId);
  if (state.status !== 'registered') throw notFound(imageId);
  return state;
}

function validateVersionNumber(version: number, field = 'version'): void {
  if (!Number.isSafeInteger(version) || version < 1) throw validationError(field, 'must be a positive integer');
}

/** A new image's first tree (import, clone): the id must be new, the paths absolute and nested. */
function checkNewTree(state: ImageState, imageId: string, path: string, bootPath: string): void {
  validateImageId(imageId);
  validateAbsolutePath('path', path);
  validateAbsolutePath('bootPath', bootPath);
  if (!isInside(bootPath, path)) throw validationError('bootPath', 'must be inside path');
  if (state.status !== 'unknown') {
    throw new DomainError(ErrorCode.IMAGE_EXISTS, `image ${imageId} already exists`, 'imageId');
  }
}

function activated(imageId: string, version: number, previousVersion: number): ImageEvent {
  return { type: 'ImageVersionActivated', data: { imageId, version, previousVersion } };
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
      return [{ type: 'ImageRegistered', data: { imageId: command.imageId, name, path: command.path, bootPath: command.bootPath } }];
    }
    case 'RecordImport': {
      const d = command.data;
      checkNewTree(state, d.imageId, d.path, d.bootPath);
      return [{ type: 'ImageImported', data: { ...d, name: normalizeImageName(d.name) } }];
    }
    case 'RecordClone': {
      const d = command.data;
      checkNewTree(state, d.imageId, d.path, d.bootPath);
      validateImageId(d.fromImageId, 'fromImageId');
      validateVersionNumber(d.fromVersion, 'fromVersion');
      return [{ type: 'ImageCloned', data: { ...d, name: normalizeImageName(d.name) } }];
    }
    case 'RenameImage': {
      const current = mustExist(state, command.imageId);
      const name = normalizeImageName(command.name);
      if (current.name === name) return [];
      return [{ type: 'ImageRenamed', data: { imageId: command.imageId, name } }];
    }
    case 'CreateVersion': {
      const d = command.data;
      const current = mustExist(state, d.imageId);
      validateVersionNumber(d.version);
      validateAbsolutePath('path', d.path);
      validateAbsolutePath('bootPath', d.bootPath);
      if (!isInside(d.bootPath, d.path)) throw validationError('bootPath', 'must be inside path');
      if (d.version !== current.nextVersion) {
        throw new DomainError(
          ErrorCode.CONCURRENCY_CONFLICT,
          `image ${d.imageId}: version ${d.version} is not the next (${current.nextVersion})`,
          'version',
        );
      }
      if (!current.versions.some((v) => v.version === d.parentVersion)) throw versionNotFound(d.imageId, d.parentVersion);
      if (current.versions.some((v) => v.path === d.path)) throw validationError('path', `is already version ${d.version}'s tree`);
      const events: ImageEvent[] = [{ type: 'ImageVersionCreated', data: d }];
      if (command.activate) events.push(activated(d.imageId, d.version, current.active));
      return events;
    }
    case 'RecordCommandFailed': {
      const d = command.data;
      const current = mustExist(state, d.imageId);
      if (!current.versions.some((v) => v.version === d.parentVersion)) throw versionNotFound(d.imageId, d.parentVersion);
      return [{ type: 'ImageCommandFailed', data: d }];
    }
    case 'ActivateVersion': {
      const current = mustExist(state, command.imageId);
      validateVersionNumber(command.version);
      if (!current.versions.some((v) => v.version === command.version)) throw versionNotFound(command.imageId, command.version);
      if (current.active === command.version) return [];
      return [activated(command.imageId, command.version, current.active)];
    }
    case 'DeleteVersion': {
      const current = mustExist(state, command.imageId);
      validateVersionNumber(command.version);
      if (!current.versions.some((v) => v.version === command.version)) throw versionNotFound(command.imageId, command.version);
      if (current.active === command.version) {
        throw new DomainError(
          ErrorCode.IMAGE_IN_USE,
          `version ${command.version} of image ${command.imageId} is the active one: activate another first`,
          'version',
        );
      }
      const bootedBy = [...new Set(command.bootedBy ?? [])];
      if (bootedBy.length > 0) {
        throw new DomainError(
          ErrorCode.IMAGE_IN_USE,
          `version ${command.version} of image ${command.imageId} is in use by ${bootedBy.length} client(s) booted on it: ${bootedBy.join(', ')}`,
          'version',
        );
      }
      return [{ type: 'ImageVersionDeleted', data: { imageId: command.imageId, version: command.version } }];
    }
    case 'RecordExport': {
      const d = command.data;
      const current = mustExist(state, d.imageId);
      if (!current.versions.some((v) => v.version === d.version)) throw versionNotFound(d.imageId, d.version);
      validateAbsolutePath('path', d.file);
      return [{ type: 'ImageExported', data: d }];
    }
    case 'DeleteImage': {
      mustExist(state, command.imageId);
      const usedBy = [...new Set(command.usedBy ?? [])];
      if (usedBy.length > 0) {
        throw new DomainError(
          ErrorCode.IMAGE_IN_USE,
          `image ${command.imageId} is used by ${usedBy.length} client(s): ${usedBy.join(', ')}`,
          'imageId',
        );
      }
      return [{ type: 'ImageDeleted', data: { imageId: command.imageId } }];
    }
    default: {
      const unknown: never = command;
      throw validationError('type', `unknown command ${(unknown as { type?: string }).type}`);
    }
  }
}

function firstVersion(imageId: string, name: string, path: string, bootPath: string, managed: boolean): ImageState {
  return {
    status: 'registered',
    imageId,
    name,
    path,
    bootPath,
    managed,
    versions: [{ version: 1, path, bootPath }],
    active: 1,
    nextVersion: 2,
  };
}

function evolve(state: ImageState, event: ImageEvent | DomainEvent): ImageState {
  const e = event as ImageEvent;
  switch (e.type) {
    case 'ImageRegistered':
      return firstVersion(e.data.imageId, e.data.name, e.data.path, e.data.bootPath, false);
    case 'ImageImported':
    case 'ImageCloned':
      return firstVersion(e.data.imageId, e.data.name, e.data.path, e.data.bootPath, true);
    case 'ImageRenamed':
      return state.status === 'registered' ? { ...state, name: e.data.name } : state;
    case 'ImageVersionCreated': {
      if (state.status !== 'registered') return state;
      const v = { version: e.data.version, path: e.data.path, bootPath: e.data.bootPath };
      return { ...state, versions: [...state.versions, v], nextVersion: Math.max(state.nextVersion, e.data.version + 1) };
    }
    case 'ImageVersionActivated':
      return state.status === 'registered' ? { ...state, active: e.data.version } : state;
    case 'ImageVersionDeleted':
      return state.status === 'registered' ? { ...state, versions: state.versions.filter((v) => v.version !== e.data.version) } : state;
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
