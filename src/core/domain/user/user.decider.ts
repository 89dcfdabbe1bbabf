import type { UserCreatedData } from '../../plugin-api/events';
import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import { validateNotReserved } from './reserved-names';
import {
  FIRST_UID_NUMBER,
  type UidNumberAllocated,
  type UserCreated,
  type UserDeleted,
  type UserDisabled,
  type UserEnabled,
  type UserEvent,
  type UserFullNameChanged,
  type UserGroupsChanged,
  type UserPasswordChanged,
} from './user.events';

// ---------------------------------------------------------------------------------------------
// Names

/**
 * POSIX portable user names (and group names), as `useradd` accepts them by default: they end up
 * in /etc/passwd-shaped LDAP entries on every Pi.
 */
export const USERNAME_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}$/;

export function isValidUsername(username: string): boolean {
  return typeof username === 'string' && USERNAME_PATTERN.test(username);
}

/** Throws VALIDATION on `field` (default `username`) unless the name matches USERNAME_PATTERN. */
export function validateUsername(username: string, field = 'username'): void {
  if (!isValidUsername(username)) throw validationError(field, `must match ${USERNAME_PATTERN.source}`);
}

/**
 * A NEW user's name: USERNAME_PATTERN, and not a name the Pi's OS already has (reserved-names.ts).
 * Only where a user is created or imported: commands on a user stored before the name was
 * reserved (change, disable, delete) still work, and its events still replay.
 */
export function validateNewUsername(username: string, field = 'username'): void {
  validateUsername(username, field);
  validateNotReserved(username, field);
}

export const FULL_NAME_MAX_LENGTH = 128;

/** Trims a full name (the GECOS field): at most 128 characters, no control characters, no `:`. */
export function normalizeFullName(fullName: string): string {
  if (typeof fullName !== 'string') throw validationError('fullName', 'must be a string');
  const trimmed = fullName.trim();
  if ([...trimmed].length > FULL_NAME_MAX_LENGTH) {
    throw validationError('fullName', `must be at most ${FULL_NAME_MAX_LENGTH} characters`);
  }
  if (/\p{Cc}/u.test(trimmed)) throw validationError('fullName', 'must not contain control characters');
  if (trimmed.includes(':')) throw validationError('fullName', 'must not contain `:`');
  return trimmed;
}

/**
 * The groups asked for a user (create, import, change): each follows the user name rule and is
 * not one of the Pi OS's own groups (`sudo`, `adm`, `video`, ...: reserved-names.ts); duplicates
 * are dropped, the order is kept. Command time only: evolve copies stored lists as they are.
 */
export function normalizeGroupList(groups: string[], field = 'groups'): string[] {
  if (!Array.isArray(groups)) throw validationError(field, 'must be a list of group names');
  for (const group of groups) {
    if (!isValidUsername(group)) throw validationError(field, `each group name must match ${USERNAME_PATTERN.source}`);
  }
  for (const group of groups) validateNotReserved(group, field);
  return [...new Set(groups)];
}

/**
 * A stored password is an LDAP `{CRYPT}` modular-crypt hash (`{CRYPT}$2b$10$...`). The check
 * keeps a plaintext password from ever landing in an event by mistake.
 */
export const PASSWORD_HASH_PATTERN = /^\{CRYPT\}\$[0-9a-z]{1,4}\$[!-~]{8,}$/;

export function isCryptHash(value: string): boolean {
  return typeof value === 'string' && PASSWORD_HASH_PATTERN.test(value);
}

function validatePasswordHash(passwordHash: string): void {
  if (!isCryptHash(passwordHash)) {
    throw validationError('passwordHash', 'must be a {CRYPT} hash (hash the password first), never a plaintext');
  }
}

/**
 * uid 0 is root and below 1000 are system accounts: a directory user must never shadow one.
 * A primary gid may be `users` (100) but never a system group such as root (0) or sudo (27).
 */
export const MIN_UID_NUMBER = 1000;
export const MIN_PRIMARY_GID_NUMBER = 100;
export const MAX_ID_NUMBER = 4294967294;

function validateIdNumber(field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min || value > MAX_ID_NUMBER) {
    throw validationError(field, `must be an integer from ${min} to ${MAX_ID_NUMBER}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Commands

/** What UserCreated records; `passwordHash` comes from the PasswordHasher port, never the plaintext. */
export type CreateUser = { type: 'CreateUser' } & UserCreatedData;

export interface ChangeUserPassword {
  type: 'ChangeUserPassword';
  username: string;
  passwordHash: string;
}

export interface ChangeUserGroups {
  type: 'ChangeUserGroups';
  username: string;
  groups: string[];
}

export interface ChangeUserFullName {
  type: 'ChangeUserFullName';
  username: string;
  fullName: string;
}

export interface DisableUser {
  type: 'DisableUser';
  username: string;
}

export interface EnableUser {
  type: 'EnableUser';
  username: string;
}

export interface DeleteUser {
  type: 'DeleteUser';
  username: string;
}

export type UserCommand = CreateUser | ChangeUserPassword | ChangeUserGroups | ChangeUserFullName | DisableUser | EnableUser | DeleteUser;

// ---------------------------------------------------------------------------------------------
// State

export interface UserDetails {
  username: string;
  uidNumber: number;
  gidNumber: number;
  fullName: string;
  groups: string[];
  passwordHash: string;
}

export type ActiveUser = UserDetails & { status: 'active' };
export type DisabledUser = UserDetails & { status: 'disabled' };
export type ExistingUser = ActiveUser | DisabledUser;

export type UserState = { status: 'unknown' } | { status: 'deleted'; username: string } | ExistingUser;

export function isExistingUser(state: UserState): state is ExistingUser {
  return state.status === 'active' || state.status === 'disabled';
}

// ---------------------------------------------------------------------------------------------
// Decide

function notFound(username: string): DomainError {
  return new DomainError(ErrorCode.USER_NOT_FOUND, `user ${username} not found`, 'username');
}

function sameSet(a: string[], b: string[]): boolean {
  const setA = new Set(a);
  const setB = new Set(b);
  return setA.size === setB.size && [...setA].every((x) => setB.has(x));
}

function decide(command: UserCommand, state: UserState): UserEvent[] {
  validateUsername(command.username);
  const username = command.username;
  switch (command.type) {
    case 'CreateUser': {
      validateNotReserved(username, 'username');
      validateIdNumber('uidNumber', command.uidNumber, MIN_UID_NUMBER);
      validateIdNumber('gidNumber', command.gidNumber, MIN_PRIMARY_GID_NUMBER);
      const fullName = normalizeFullName(command.fullName);
      const groups = normalizeGroupList(command.groups);
      validatePasswordHash(command.passwordHash);
      if (isExistingUser(state)) {
        throw new DomainError(ErrorCode.USER_EXISTS, `user ${username} already exists`, 'username');
      }
      const event: UserCreated = {
        type: 'UserCreated',
        data: {
          username,
          uidNumber: command.uidNumber,
          gidNumber: command.gidNumber,
          fullName,
          groups,
          passwordHash: command.passwordHash,
        },
      };
      return [event];
    }
    case 'ChangeUserPassword': {
      validatePasswordHash(command.passwordHash);
      if (!isExistingUser(state)) throw notFound(username);
      if (state.passwordHash === command.passwordHash) return [];
      const event: UserPasswordChanged = {
        type: 'UserPasswordChanged',
        data: { username, passwordHash: command.passwordHash },
      };
      return [event];
    }
    case 'ChangeUserGroups': {
      const groups = normalizeGroupList(command.groups);
      if (!isExistingUser(state)) throw notFound(username);
      if (sameSet(state.groups, groups)) return [];
      const event: UserGroupsChanged = { type: 'UserGroupsChanged', data: { username, groups } };
      return [event];
    }
    case 'ChangeUserFullName': {
      const fullName = normalizeFullName(command.fullName);
      if (!isExistingUser(state)) throw notFound(username);
      if (state.fullName === fullName) return [];
      const event: UserFullNameChanged = { type: 'UserFullNameChanged', data: { username, fullName } };
      return [event];
    }
    case 'DisableUser': {
      if (!isExistingUser(state)) throw notFound(username);
      if (state.status === 'disabled') return [];
      const event: UserDisabled = { type: 'UserDisabled', data: { username } };
      return [event];
    }
    case 'EnableUser': {
      if (!isExistingUser(state)) throw notFound(username);
      if (state.status === 'active') return [];
      const event: UserEnabled = { type: 'UserEnabled', data: { username } };
      return [event];
    }
    case 'DeleteUser': {
      if (!isExistingUser(state)) throw notFound(username);
      const event: UserDeleted = { type: 'UserDeleted', data: { username } };
      return [event];
    }
    default: {
      const unknown: never = command;
      throw validationError('type', `unknown command ${(unknown as { type?: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Evolve

function evolve(state: UserState, event: UserEvent | DomainEvent): UserState {
  const e = event as UserEvent;
  switch (e.type) {
    case 'UserCreated':
      return { status: 'active', ...e.data, groups: [...e.data.groups] };
    case 'UserPasswordChanged':
      return isExistingUser(state) ? { ...state, passwordHash: e.data.passwordHash } : state;
    case 'UserGroupsChanged':
      return isExistingUser(state) ? { ...state, groups: [...e.data.groups] } : state;
    case 'UserFullNameChanged':
      return isExistingUser(state) ? { ...state, fullName: e.data.fullName } : state;
    case 'UserDisabled':
      return isExistingUser(state) ? { ...state, status: 'disabled' } : state;
    case 'UserEnabled':
      return isExistingUser(state) ? { ...state, status: 'active' } : state;
    case 'UserDeleted':
      return { status: 'deleted', username: e.data.username };
    default:
      return state;
  }
}

export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: () => ({ status: 'unknown' }),
  evolve,
  decide,
};

// ---------------------------------------------------------------------------------------------
// uidNumber sequence (stream UID_SEQUENCE_STREAM): numbers are handed out once, never reused.

export interface AllocateUid {
  type: 'AllocateUid';
  /** Who the number is for (kept in the event for the audit trail). */
  username: string;
}

export type UidSequenceCommand = AllocateUid;

export interface UidSequenceState {
  next: number;
}

export const uidSequenceDecider: Decider<UidSequenceState, UidSequenceCommand, UidNumberAllocated> = {
  initialState: () => ({ next: FIRST_UID_NUMBER }),
  evolve(state, event) {
    if (event.type !== 'UidNumberAllocated') return state;
    const { uidNumber } = (event as UidNumberAllocated).data;
    return { next: Math.max(state.next, uidNumber + 1) };
  },
  decide(command, state) {
    validateUsername(command.username);
    if (state.next > MAX_ID_NUMBER) throw validationError('uidNumber', 'no uid numbers left');
    const event: UidNumberAllocated = {
      type: 'UidNumberAllocated',
      data: { uidNumber: state.next, username: command.username },
    };
    return [event];
  },
};
