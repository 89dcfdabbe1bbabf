import type { DomainEvent } from '../shared/decider';

/** Stream of one group: `group-<name>`. */
export const groupStream = (name: string): string => `group-${name}`;
export const GROUP_STREAM_PREFIX = 'group-';
/** gidNumbers are allocated here, from 10000 upward, and never reused. */
export const GID_SEQUENCE_STREAM = 'sequence-gid';
export const FIRST_GID_NUMBER = 10000;
/** Created at first start. */
export const DEFAULT_GROUPS = ['pupils', 'teachers'] as const;

export const GroupEventType = {
  GroupCreated: 'GroupCreated',
  GroupMembersChanged: 'GroupMembersChanged',
  GroupDeleted: 'GroupDeleted',
  GidNumberAllocated: 'GidNumberAllocated',
} as const;

export type GroupCreated = DomainEvent<'GroupCreated', { name: string; gidNumber: number }>;
/** The group's full member list after the change, plus what changed. */
export type GroupMembersChanged = DomainEvent<
  'GroupMembersChanged',
  { name: string; members: string[]; added: string[]; removed: string[] }
>;
export type GroupDeleted = DomainEvent<'GroupDeleted', { name: string }>;
export type GidNumberAllocated = DomainEvent<'GidNumberAllocated', { gidNumber: number; name: string }>;

export type GroupEvent = GroupCreated | GroupMembersChanged | GroupDeleted;
