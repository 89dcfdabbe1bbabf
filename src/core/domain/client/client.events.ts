import type { DomainEvent } from '../shared/decider';

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
} as const;

/** How a client was seen: `dhcp`, `pxe`, `tftp`, `manual`... */
export type DetectionSource = string;

export interface ClientDetectedData {
  mac: string;
  /** Serial number (hex, lower case) when known, e.g. from DHCP option 97. */
  serial: string | null;
  /** Model when known: `RPi4`, `RPi5`, `RPi3`... */
  model: string | null;
  ip: string | null;
  via: DetectionSource;
  /** Identifies one boot of the Pi, chosen by the observer (e.g. the DHCP plugin). */
  bootId: string | null;
}

export type ClientDetected = DomainEvent<'ClientDetected', ClientDetectedData>;
/** A known client seen again in a new boot (at most once per client per boot). */
export type ClientRedetected = DomainEvent<'ClientRedetected', ClientDetectedData>;
export type ClientAddressLearned = DomainEvent<'ClientAddressLearned', { mac: string; ip: string }>;
export type ClientApproved = DomainEvent<
  'ClientApproved',
  { mac: string; name: string | null; imageId: string | null; preRegistered: boolean }
>;
export type ClientRejected = DomainEvent<'ClientRejected', { mac: string }>;
export type ClientRenamed = DomainEvent<'ClientRenamed', { mac: string; name: string }>;
export type ClientImageAssigned = DomainEvent<'ClientImageAssigned', { mac: string; imageId: string | null }>;
/** Extra config.txt lines (newline separated) and extra kernel cmdline arguments (one line). */
export type ClientBootConfigChanged = DomainEvent<
  'ClientBootConfigChanged',
  { mac: string; configTxt: string; cmdlineArgs: string }
>;
export type ClientRemoved = DomainEvent<'ClientRemoved', { mac: string }>;

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
