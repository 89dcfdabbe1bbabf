import type { CoreEventCatalogue } from '../../plugin-api/events';
import { UserEventTypes } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

/** Stream of one user: `user-<username>`. */
export const userStream = (username: string): string => `user-${username}`;
export const USER_STREAM_PREFIX = 'user-';
/** uidNumbers are allocated here, from 10000 upward, and never reused. */
export const UID_SEQUENCE_STREAM = 'sequence-uid';
export const FIRST_UID_NUMBER = 10000;

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const UserEventType = UserEventTypes;

type E<T extends keyof CoreEventCatalogue> = DomainEvent<T, CoreEventCatalogue[T]>;

/** `passwordHash` is a `{CRYPT}$2y$...` bcrypt hash, never the plaintext; redacted from every API output. */
export type UserCreated = E<'UserCreated'>;
export type UserPasswordChanged = E<'UserPasswordChanged'>;
export type UserGroupsChanged = E<'UserGroupsChanged'>;
export type UserFullNameChanged = E<'UserFullNameChanged'>;
export type UserDisabled = E<'UserDisabled'>;
export type UserEnabled = E<'UserEnabled'>;
export type UserDeleted = E<'UserDeleted'>;
export type UidNumberAllocated = E<'UidNumberAllocated'>;

export type UserEvent =
  UserCreated | UserPasswordChanged | UserGroupsChanged | UserFullNameChanged | UserDisabled | UserEnabled | UserDeleted;
