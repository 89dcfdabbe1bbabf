import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import { validateNotReserved } from '../user/reserved-names';
import { MAX_ID_NUMBER, USERNAME_PATTERN, isValidUsername, validateUsername } from '../user/user.decider';
import {
  FIRST_GID_NUMBER,
  type GidNumberAllocated,
  type GroupCreated,
  type GroupDeleted,
  type GroupEvent,
  type GroupMembersChanged,
} from './group.events';

/** Below 1000 are system groups (sudo is 27): a directory group must never shadow one. */
export const MIN_GROUP_GID_NUMBER = 1000;

// ---------------------------------------------------------------------------------------------
// Commands

export interface CreateGroup {
  type: 'CreateGroup';
  name: string;
  gidNumber: number;
}

export interface ChangeGroupMembers {
  type: 'ChangeGroupMembers';
  name: string;
  /** Usernames to add (already members: ignored). */
  add: string[];
  /** Usernames to remove (not members: ignored). */
  remove: string[];
}

export interface DeleteGroup {
  type: 'DeleteGroup';
  name: string;
}

export type GroupCommand = CreateGroup | ChangeGroupMembers | DeleteGroup;

// ---------------------------------------------------------------------------------------------
// State

export type GroupState =
  { status: 'unknown' } | { status: 'active'; name: string; gidNumber: number; members: string[] } | { status: 'deleted'; name: string };

// ---------------------------------------------------------------------------------------------
// Decide

function notFound(name: string): DomainError {
  return new DomainError(ErrorCode.GROUP_NOT_FOUND, `group ${name} not found`, 'name');
}

function memberList(field: 'add' | 'remove', names: string[]): string[] {
  if (!Array.isArray(names)) throw validationError(field, 'must be a list of usernames');
  for (const n of names) {
    if (!isValidUsername(n)) throw validationError(field, `each username must match ${USERNAME_PATTERN.source}`);
  }
  return [...new Set(names)];
}

function decide(command: GroupCommand, state: GroupState): GroupEvent[] {
  validateUsername(command.name, 'name');
  const name = command.name;
  switch (command.type) {
    case 'CreateGroup': {
      // Only a new group: one stored before its name was reserved can still be changed and deleted.
      validateNotReserved(name, 'name');
      const gid = command.gidNumber;
      if (!Number.isInteger(gid) || gid < MIN_GROUP_GID_NUMBER || gid > MAX_ID_NUMBER) {
        throw validationError('gidNumber', `must be an integer from ${MIN_GROUP_GID_NUMBER} to ${MAX_ID_NUMBER}`);
      }
      if (state.status === 'active') {
        throw new DomainError(ErrorCode.GROUP_EXISTS, `group ${name} already exists`, 'name');
      }
      const event: GroupCreated = { type: 'GroupCreated', data: { name, gidNumber: gid } };
      return [event];
    }
    case 'ChangeGroupMembers': {
      const add = memberList('add', command.add ?? []);
      const remove = memberList('remove', command.remove ?? []);
      const both = add.filter((n) => remove.includes(n));
      if (both.length > 0) throw validationError('add', `${both.join(', ')} both added and removed`);
      if (state.status !== 'active') throw notFound(name);
      const current = new Set(state.members);
      const added = add.filter((n) => !current.has(n));
      const removed = remove.filter((n) => current.has(n));
      if (added.length === 0 && removed.length === 0) return [];
      for (const n of removed) current.delete(n);
      for (const n of added) current.add(n);
      const event: GroupMembersChanged = {
        type: 'GroupMembersChanged',
        data: { name, members: [...current].sort(), added, removed },
      };
      return [event];
    }
    case 'DeleteGroup': {
      if (state.status !== 'active') throw notFound(name);
      if (state.members.length > 0) {
        throw new DomainError(ErrorCode.GROUP_NOT_EMPTY, `group ${name} still has ${state.members.length} member(s)`, 'name');
      }
      const event: GroupDeleted = { type: 'GroupDeleted', data: { name } };
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

function evolve(state: GroupState, event: GroupEvent | DomainEvent): GroupState {
  const e = event as GroupEvent;
  switch (e.type) {
    case 'GroupCreated':
      return { status: 'active', name: e.data.name, gidNumber: e.data.gidNumber, members: [] };
    case 'GroupMembersChanged':
      return state.status === 'active' ? { ...state, members: [...e.data.members] } : state;
    case 'GroupDeleted':
      return { status: 'deleted', name: e.data.name };
    default:
      return state;
  }
}

export const groupDecider: Decider<GroupState, GroupCommand, GroupEvent> = {
  initialState: () => ({ status: 'unknown' }),
  evolve,
  decide,
};

// ---------------------------------------------------------------------------------------------
// gidNumber sequence (stream GID_SEQUENCE_STREAM): numbers are handed out once, never reused.

export interface AllocateGid {
  type: 'AllocateGid';
  /** The group the number is for (kept in the event for the audit trail). */
  name: string;
}

export type GidSequenceCommand = AllocateGid;

export interface GidSequenceState {
  next: number;
}

export const gidSequenceDecider: Decider<GidSequenceState, GidSequenceCommand, GidNumberAllocated> = {
  initialState: () => ({ next: FIRST_GID_NUMBER }),
  evolve(state, event) {
    if (event.type !== 'GidNumberAllocated') return state;
    const { gidNumber } = (event as GidNumberAllocated).data;
    return { next: Math.max(state.next, gidNumber + 1) };
  },
  decide(command, state) {
    validateUsername(command.name, 'name');
    if (state.next > MAX_ID_NUMBER) throw validationError('gidNumber', 'no gid numbers left');
    const event: GidNumberAllocated = {
      type: 'GidNumberAllocated',
      data: { gidNumber: state.next, name: command.name },
    };
    return [event];
  },
};
