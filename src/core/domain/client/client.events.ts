import type { ClientDetectedData, CoreEventCatalogue, CoreEventType } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

export type { ClientDetectedData };

/** Stream of one client (a Pi): `client-<mac>`, mac normalised to `aa:bb:cc:dd:ee:ff`. */
export const clientStream = (mac: string): string => `client-${mac}`;
export const CLIENT_STREAM_PREFIX = 'client-';

export const ClientEventType = {
  ClientDetected: 'ClientDetected',
  ClientRedetected: 'ClientRedetected',
  ClientAddressLearned: 'ClientAddressLearned',
  ClientApproved: 'ClientApproved',
  ClientRejected: 'ClientRejected',
  ClientRenamed: 'ClientRenamed',
  ClientImageAssigned: 'ClientImageAssigned',
  ClientBootConfigChanged: 'ClientBootConfigChanged',
  ClientRemoved: 'ClientRemoved',
} as const satisfies Record<string, CoreEventType>;

type E<T extends keyof CoreEventCatalogue> = DomainEvent<T, CoreEventCatalogue[T]>;

export type ClientDetected = E<'ClientDetected'>;
export type ClientRedetected = E<'ClientRedetected'>;
export type ClientAddressLearned = E<'ClientAddressLearned'>;
export type ClientApproved = E<'ClientApproved'>;
export type ClientRejected = E<'ClientRejected'>;
export type ClientRenamed = E<'ClientRenamed'>;
export type ClientImageAssigned = E<'ClientImageAssigned'>;
export type ClientBootConfigChanged = E<'ClientBootConfigChanged'>;
export type ClientRemoved = E<'ClientRemoved'>;

export type ClientEvent =
  | ClientDetected
  | ClientRedetected
  | ClientAddressLearned
  | ClientApproved
  | ClientRejected
  | ClientRenamed
  | ClientImageAssigned
  | ClientBootConfigChanged
  | ClientRemoved;
