import type { CoreEventCatalogue } from '../../plugin-api/events';
import { GroupEventTypes } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

/** Stream of one group: `group-<name>`. */
export const groupStream = (name: string): string => `group-${name}`;
export const GROUP_STREAM_PREFIX = 'group-';
/** gidNumbers are allocated here, from 10000 upward, and never reused. */
export const GID_SEQUENCE_STREAM = 'sequence-gid';
export const FIRST_GID_NUMBER = 10000;
/** Created at first start. */
export const DEFAULT_GROUPS = ['pupils', 'teachers'] as const;

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const GroupEventType = GroupEventTypes;

type E<T extends keyof CoreEventCatalogue> = DomainEvent<T, CoreEventCatalogue[T]>;

export type GroupCreated = E<'GroupCreated'>;
/** The group's full member list after the change, plus what changed. */
export type GroupMembersChanged = E<'GroupMembersChanged'>;
export type GroupDeleted = E<'GroupDeleted'>;
export type GidNumberAllocated = E<'GidNumberAllocated'>;

export type GroupEvent = GroupCreated | GroupMembersChanged | GroupDeleted;
