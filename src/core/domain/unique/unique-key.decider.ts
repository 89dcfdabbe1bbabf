/**
 * A unique key (an image's name, an image's folder...) held by one owner, guaranteed by the event
 * store: one stream per key, appended with an expected revision, so two writers can never both
 * take it, even in two processes on one KurrentDB. (User and group names need none: their own
 * streams are keyed by name.)
 */
import { createHash } from 'node:crypto';
import type { CoreEventCatalogue } from '../../plugin-api/events';
import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, type ErrorCode } from '../shared/domain-error';

export type UniqueKeyClaimed = DomainEvent<'UniqueKeyClaimed', CoreEventCatalogue['UniqueKeyClaimed']>;
export type UniqueKeyReleased = DomainEvent<'UniqueKeyReleased', CoreEventCatalogue['UniqueKeyReleased']>;
export type UniqueKeyEvent = UniqueKeyClaimed | UniqueKeyReleased;

/** `unique-<kind>-<sha256 of the key>`: any key (spaces, slashes, unicode) makes a safe stream name. */
export function uniqueKeyStream(kind: string, key: string): string {
  return `unique-${kind}-${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 40)}`;
}

export interface ClaimKey {
  type: 'ClaimKey';
  kind: string;
  key: string;
  owner: string;
  /** The error when another owner holds it (IMAGE_EXISTS...). */
  takenCode: ErrorCode;
  takenMessage: string;
  /** The field to blame. */
  field: string;
}

export interface ReleaseKey {
  type: 'ReleaseKey';
  kind: string;
  key: string;
  owner: string;
}

export type UniqueKeyCommand = ClaimKey | ReleaseKey;
export interface UniqueKeyState {
  owner: string | null;
}

export const uniqueKeyDecider: Decider<UniqueKeyState, UniqueKeyCommand, UniqueKeyEvent> = {
  initialState: () => ({ owner: null }),
  evolve(state, event) {
    const e = event as UniqueKeyEvent;
    if (e.type === 'UniqueKeyClaimed') return { owner: e.data.owner };
    if (e.type === 'UniqueKeyReleased') return state.owner === e.data.owner ? { owner: null } : state;
    return state;
  },
  decide(command, state) {
    const { kind, key, owner } = command;
    if (command.type === 'ClaimKey') {
      if (state.owner === owner) return [];
      if (state.owner !== null) throw new DomainError(command.takenCode, command.takenMessage, command.field);
      return [{ type: 'UniqueKeyClaimed', data: { kind, key, owner } }];
    }
    if (state.owner !== owner) return [];
    return [{ type: 'UniqueKeyReleased', data: { kind, key, owner } }];
  },
};
