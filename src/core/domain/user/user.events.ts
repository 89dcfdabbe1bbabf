import type { DomainEvent } from '../shared/decider';

/** Stream of one user: `user-<username>`. */
export const userStream = (username: string): string => `user-${username}`;
export const USER_STREAM_PREFIX = 'user-';
/** uidNumbers are allocated here, from 10000 upward, and never reused. */
export const UID_SEQUENCE_STREAM = 'sequence-uid';
export const FIRST_UID_NUMBER = 10000;

export const UserEventType = {
  UserCreated: 'UserCreated',
  UserPasswordChanged: 'UserPasswordChanged',
  UserGroupsChanged: 'UserGroupsChanged',
  UserFullNameChanged: 'UserFullNameChanged',
  UserDisabled: 'UserDisabled',
  UserEnabled: 'UserEnabled',
  UserDeleted: 'UserDeleted',
  UidNumberAllocated: 'UidNumberAllocated',
} as const;

/**
 * `passwordHash` is an LDAP-verifiable salted hash (`{CRYPT}$2y$...`, bcrypt), never the plaintext. It is
 * kept in events for the LDAP plugin and redacted from every API output (audit log included).
 */
export type UserCreated = DomainEvent<
  'UserCreated',
  {
    username: string;
    uidNumber: number;
    gidNumber: number;
    fullName: string;
    groups: string[];
    passwordHash: string;
  }
>;
export type UserPasswordChanged = DomainEvent<'UserPasswordChanged', { username: string; passwordHash: string }>;
export type UserGroupsChanged = DomainEvent<'UserGroupsChanged', { username: string; groups: string[] }>;
export type UserFullNameChanged = DomainEvent<'UserFullNameChanged', { username: string; fullName: string }>;
export type UserDisabled = DomainEvent<'UserDisabled', { username: string }>;
export type UserEnabled = DomainEvent<'UserEnabled', { username: string }>;
export type UserDeleted = DomainEvent<'UserDeleted', { username: string }>;
export type UidNumberAllocated = DomainEvent<'UidNumberAllocated', { uidNumber: number; username: string }>;

export type UserEvent =
  | UserCreated
  | UserPasswordChanged
  | UserGroupsChanged
  | UserFullNameChanged
  | UserDisabled
  | UserEnabled
  | UserDeleted;
