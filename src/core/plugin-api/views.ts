/**
 * Read-only views of the core's read models, served to plugins by the host (`ctx.views`). They are
 * the same in-memory models the API reads: a plugin never copies projection code, never replays
 * client or user events itself, and never waits on the store to answer a packet. Records are
 * frozen; a record is replaced (never changed in place) when an event changes it, so a record
 * held by a plugin stays a consistent picture of one moment.
 *
 * Views are complete when `start()` is called and follow every event after that. `onChange`
 * listeners run after the view has applied an event, synchronously, in event order: keep them
 * short (invalidate a cache, schedule work), never block.
 */

import type { ImageOsRelease } from './events';

export type ClientStatus = 'pending' | 'approved' | 'rejected';

/** A Pi (or other network-boot client) as bramble knows it. */
export interface ClientRecord {
  /** Canonical `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  readonly status: ClientStatus;
  /** Its hostname, when named. */
  readonly name: string | null;
  /** The image it boots, when assigned. */
  readonly imageId: string | null;
  /** Serial number (lower-case hex), when a Pi 4/5 told it (DHCP option 97). */
  readonly serial: string | null;
  /** `RPi3`, `RPi4`, `RPi5`..., when known. */
  readonly model: string | null;
  /** The IPv4 address it last used, as reported by a protocol plugin. */
  readonly ip: string | null;
  /**
   * The image version it was last handed for a boot (a protocol plugin's boot fact with
   * `detail.imageId` and `detail.imageVersion`): it keeps this version until it reboots. A change
   * of this field alone does not call `onChange` (boot facts are many; nothing needs to react).
   */
  readonly bootedImage: { readonly imageId: string; readonly version: number } | null;
  /** Extra config.txt lines (newline separated). */
  readonly configTxt: string;
  /** Extra kernel command-line arguments (one line). */
  readonly cmdlineArgs: string;
  readonly preRegistered: boolean;
  readonly detectedAt: string | null;
  readonly lastSeenAt: string | null;
  readonly approvedAt: string | null;
  readonly updatedAt: string;
}

/** One immutable version of an image: its own root tree (copy-on-write clone of its parent). */
export interface ImageVersionRecord {
  readonly version: number;
  /** null for version 1. */
  readonly parentVersion: number | null;
  readonly reason: 'registered' | 'imported' | 'cloned' | 'convert' | 'command' | 'rollback';
  /** Absolute path of this version's root tree (also its NFS export path). */
  readonly path: string;
  readonly bootPath: string;
  readonly createdAt: string;
}

/**
 * An OS image: a root tree on the server and the folder its boot files come from. `path` and
 * `bootPath` are those of the active version: what a Pi gets when it boots now. Every version
 * still present is in `versions` (oldest first); a Pi that booted an older one keeps it until it
 * reboots, so the NFS plugin exports them all.
 */
export interface ImageRecord {
  readonly id: string;
  readonly name: string;
  /** Absolute path of the active version's root file system. */
  readonly path: string;
  /** Absolute path of the active version's boot folder (`<path>/boot/firmware` or `<path>/boot`). */
  readonly bootPath: string;
  /** The active version's number. */
  readonly version: number;
  readonly versions: readonly ImageVersionRecord[];
  /** Whether bramble owns the trees (imported or cloned: under its images folder) or the admin does (registered in place). */
  readonly managed: boolean;
  /** Debian architecture name, when known. */
  readonly architecture: string | null;
  readonly osRelease: ImageOsRelease | null;
  /** Whether the active version has been converted for network boot. */
  readonly converted: boolean;
  readonly registeredAt: string;
}

/**
 * A directory user. `passwordHash` (`{CRYPT}$2y$...`) is for plugins that check passwords (LDAP);
 * it must never be logged or sent anywhere else.
 */
export interface UserRecord {
  readonly username: string;
  readonly uidNumber: number;
  /** gid of the primary group. */
  readonly gidNumber: number;
  readonly fullName: string;
  /** Groups asked for, primary first. */
  readonly groups: readonly string[];
  readonly enabled: boolean;
  readonly passwordHash: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface GroupRecord {
  readonly name: string;
  readonly gidNumber: number;
  readonly members: readonly string[];
  readonly createdAt: string;
}

/** What changed in a view: the record's key and the record now (null: it is gone). */
export interface ViewChange<T> {
  readonly key: string;
  readonly record: T | null;
  /** Global position of the event that made the change. */
  readonly position: number;
}

export interface ReadonlyView<T> {
  get(key: string): T | null;
  /** Every record, in key order. */
  list(): T[];
  readonly size: number;
  /** Called after each change; returns an unsubscribe function. */
  onChange(listener: (change: ViewChange<T>) => void): () => void;
}

export interface ClientsView extends ReadonlyView<ClientRecord> {
  /** The client that last used this IPv4 address. */
  byIp(ip: string): ClientRecord | null;
  /** The client with this serial number (lower-case hex, 8 digits or more). */
  bySerial(serial: string): ClientRecord | null;
}

export interface GroupsView extends ReadonlyView<GroupRecord> {
  /** Names of the groups listing `username` as a member. */
  memberOf(username: string): string[];
}

/** The core's read models, as plugins see them. */
export interface PluginViews {
  readonly clients: ClientsView;
  readonly images: ReadonlyView<ImageRecord>;
  readonly users: ReadonlyView<UserRecord>;
  readonly groups: GroupsView;
}
