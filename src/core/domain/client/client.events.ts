import type { ClientDetectedData, CoreEventCatalogue } from '../../plugin-api/events';
import { ClientEventTypes } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

export type { ClientDetectedData };

/** Stream of one client (a Pi): `client-<mac>`, mac normalised to `aa:bb:cc:dd:ee:ff`. */
export const clientStream = (mac: string): string => `client-${mac}`;
export const CLIENT_STREAM_PREFIX = 'client-';

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const ClientEventType = ClientEventTypes;

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
