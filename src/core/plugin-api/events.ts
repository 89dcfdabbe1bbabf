/**
 * The catalogue of every event type bramble's core writes, with the shape of its `data`. Type
 * names are string constants in the past tense, never class names; a shape only ever grows, and
 * a change that cannot grow it gets a new schema version and an upcaster (so old events keep their
 * meaning). A plugin's `project()` receives these as a union narrowed by `event.type`.
 *
 * Streams: `client-<mac>`, `user-<name>`, `group-<name>`, `image-<id>`, `settings`, `boot-<mac>`,
 * `auth-tokens`, `sequence-uid`, `sequence-gid`, `unique-<kind>-<key>`, and `plugin-<name>-*`
 * for plugins' own events.
 */

/** Metadata carried by every event. */
export interface EventMetadata {
  /** Who caused it: `admin:<token-name>`, `plugin:<name>`, `system`. */
  actor: string;
  /** Ties together every event caused by one request. */
  correlationId: string;
  /** The id of the event or command that caused this one (null for a user's request). */
  causationId: string | null;
  /** ISO-8601 time the command was issued (set by the caller, never by the domain). */
  timestamp: string;
  /** Version of the `data` shape for this event type, starting at 1. */
  schemaVersion: number;
}

/** An event as stored. `position` is global and strictly increasing; `revision` counts within the stream. */
export interface RecordedEvent<T extends string = string, D = unknown> {
  id: string;
  stream: string;
  revision: number;
  position: number;
  type: T;
  data: D;
  metadata: EventMetadata;
}

// ---------------------------------------------------------------------------------------------
// Clients (`client-<mac>`, mac in canonical form)

export interface ClientDetectedData {
  mac: string;
  /** Serial number (hex, lower case) when known, e.g. from DHCP option 97. */
  serial: string | null;
  /** Model when known: `RPi3`, `RPi4`, `RPi5`... */
  model: string | null;
  ip: string | null;
  /** How it was seen: `dhcp`, `pxe`, `tftp`, `manual`... */
  via: string;
  /** Identifies one boot of the Pi, chosen by the observer (e.g. the DHCP plugin). */
  bootId: string | null;
}

export interface ClientApprovedData {
  mac: string;
  name: string | null;
  imageId: string | null;
  /** Approved before it was ever seen (typed in or imported). */
  preRegistered: boolean;
}

/** Extra config.txt lines (newline separated) and extra kernel cmdline arguments (one line). */
export interface ClientBootConfigChangedData {
  mac: string;
  configTxt: string;
  cmdlineArgs: string;
}

// ---------------------------------------------------------------------------------------------
// Users (`user-<name>`) and the uid sequence (`sequence-uid`)

/**
 * `passwordHash` is an LDAP-verifiable salted hash (`{CRYPT}$2y$...`, bcrypt), never the
 * plaintext. Plugins (LDAP) may read it; the API redacts it from every answer.
 */
export interface UserCreatedData {
  username: string;
  uidNumber: number;
  gidNumber: number;
  fullName: string;
  /** The groups asked for; the first is the primary group. Membership itself lives on the groups. */
  groups: string[];
  passwordHash: string;
}

// ---------------------------------------------------------------------------------------------
// Groups (`group-<name>`) and the gid sequence (`sequence-gid`)

/** The group's full member list after the change, plus what changed. */
export interface GroupMembersChangedData {
  name: string;
  members: string[];
  added: string[];
  removed: string[];
}

// ---------------------------------------------------------------------------------------------
// Images (`image-<id>`)

/**
 * `path` is the image's root tree; `bootPath` the folder the Pi's boot files come from
 * (`<path>/boot/firmware` on Bookworm and later, else `<path>/boot`). Absolute paths.
 */
export interface ImageRegisteredData {
  imageId: string;
  name: string;
  path: string;
  bootPath: string;
}

/** `/etc/os-release` of an image (null fields when absent). */
export interface ImageOsRelease {
  id: string | null;
  versionId: string | null;
  versionCodename: string | null;
  prettyName: string | null;
}

/** Where an imported image came from. */
export interface ImageSource {
  kind: 'tar' | 'disk-image' | 'directory';
  /** Absolute path on the server, as given. */
  path: string;
  /** SHA-256 of the source file's bytes (null for a directory). */
  sha256: string | null;
  /** Size of the source file in bytes (for a directory: the bytes of its files). */
  sizeBytes: number;
}

/**
 * An image imported into bramble's own images folder: its version 1 is the tree at `path`
 * (`<imagesDir>/<imageId>/v1`). `ImageRegistered` stays the other source: a folder registered in
 * place, which is its version 1.
 */
export interface ImageImportedData {
  imageId: string;
  name: string;
  source: ImageSource;
  path: string;
  bootPath: string;
  /** Bytes and count of the imported tree's files (directories and links count as files). */
  sizeBytes: number;
  fileCount: number;
  osRelease: ImageOsRelease | null;
  /** Debian architecture name (`arm64`, `armhf`, `amd64`...), null when unknown. */
  architecture: string | null;
}

/** One file a change of an image touched (paths inside the image, absolute: `/etc/fstab`). */
export interface ImageFileChange {
  path: string;
  action: 'created' | 'modified' | 'removed';
  /** SHA-256 of the new content (null when removed, or not a regular file). */
  sha256: string | null;
}

/** A copy of another image's version, as a new image (its version 1). */
export interface ImageClonedData {
  imageId: string;
  name: string;
  fromImageId: string;
  fromVersion: number;
  path: string;
  bootPath: string;
}

/** A command run in a new version failed: the version was discarded (recorded for the audit log). */
export interface ImageCommandFailedData extends ImageCommandRecord {
  imageId: string;
  parentVersion: number;
}

/** A version written out as a `.tar.xz` on the server. */
export interface ImageExportedData {
  imageId: string;
  version: number;
  /** Absolute path of the archive. */
  file: string;
  sha256: string;
  sizeBytes: number;
}

/** Why a version exists. */
export type ImageVersionReason = 'convert' | 'command' | 'rollback';

/**
 * A new immutable version of an image, a copy-on-write clone of `parentVersion` with the changes
 * made. Versions are numbered from 1 (the imported or registered tree), never reused.
 */
export interface ImageVersionCreatedData {
  imageId: string;
  version: number;
  parentVersion: number;
  reason: ImageVersionReason;
  path: string;
  bootPath: string;
  /** For `convert`: every file it changed. For `command`: empty (see `command`). */
  changes: ImageFileChange[];
  /** For `command`: what ran and how it ended. */
  command: ImageCommandRecord | null;
}

export interface ImageCommandRecord {
  command: string;
  exitCode: number | null;
  signal: string | null;
  /** SHA-256 and size of the command's whole output (stdout and stderr interleaved as read). */
  logSha256: string;
  logBytes: number;
  durationMs: number;
}

// ---------------------------------------------------------------------------------------------
// Settings (`settings`)

/** Settings that belong to no plugin. */
export interface GlobalSettings {
  /** The one network interface the protocol plugins serve (BRAMBLE_INTERFACE pins it). */
  interface: string | null;
  /** The address Pis reach bramble at (BRAMBLE_SERVER_IP pins it). */
  serverIp: string | null;
  /** Days boot streams (`boot-<mac>`) are kept; absent: 30. Nothing else is ever deleted. */
  bootRetentionDays?: number;
  /** TCP port of the "I'm up" report listener (`POST /booted`); 0 turns it off; absent: 6970. */
  bootReportPort?: number;
  /** How long a boot stage may go without progress before it is STALLED; absent: the defaults. */
  bootTimeouts?: BootTimeoutSettings;
}

/** Boot timeouts in seconds (defaults: 30, 20, 120, 300, 600). */
export interface BootTimeoutSettings {
  /** DHCP seen, no TFTP request. */
  dhcpSeconds: number;
  /** FIRMWARE or KERNEL without a new file. */
  fileSeconds: number;
  /** KERNEL's last file served, no root mount. */
  rootMountSeconds: number;
  /** ROOT_MOUNTED, no boot report. */
  bootedSeconds: number;
  /** STALLED, nothing more: FAILED. */
  failAfterStallSeconds: number;
}

/** How one plugin's stored values change. */
export interface PluginSettingsChange {
  /** Keys set to these values. */
  set?: Record<string, unknown>;
  /** Keys returned to their defaults. */
  unset?: string[];
  /** When true the plugin's stored values become exactly `set` (the meaning of schema version 1). */
  replace?: boolean;
}

/**
 * Schema version 2. (Version 1 held the DHCP fields and `ldapBaseDn` in the core settings and
 * replaced a plugin's values as a whole; its upcaster maps it to this shape.)
 */
export interface SettingsUpdatedData {
  global?: Partial<GlobalSettings>;
  plugins?: Record<string, PluginSettingsChange>;
}

// ---------------------------------------------------------------------------------------------
// Boot facts and sessions (`boot-<mac>`)

/**
 * One observed step of a boot. Since boot sessions, only `tftp.image-version` (the image version a
 * client was handed) is still appended as this event; older stores keep every fact as one. `stage` is a short constant chosen by the reporting plugin
 * (`dhcp.discover`, `dhcp.offered`, `dhcp.acked`, `tftp.file-served`...).
 */
export interface BootProgressedData {
  mac: string;
  stage: string;
  plugin: string;
  ip: string | null;
  /** Free-form detail (xid, file name, size...): no secrets. */
  detail: Record<string, string | number | boolean | null>;
}

/**
 * Where a boot session is. The six progress stages in order, then the two ends of a session that
 * went wrong. A session's stage is the highest progress stage reached (stages may be skipped);
 * `STALLED` (no progress for longer than the stage allows) and `FAILED` (it gave up, or restarted)
 * are entered from any stage but `BOOTED` and `FAILED`.
 */
export type BootStage = 'DHCP' | 'FIRMWARE' | 'KERNEL' | 'ROOT_MOUNTED' | 'USER_LOGGED_IN' | 'BOOTED' | 'STALLED' | 'FAILED';

/** The progress stages, in order. */
export const BOOT_PROGRESS_STAGES = ['DHCP', 'FIRMWARE', 'KERNEL', 'ROOT_MOUNTED', 'USER_LOGGED_IN', 'BOOTED'] as const;
export type BootProgressStage = (typeof BOOT_PROGRESS_STAGES)[number];
/** Every stage. */
export const BOOT_STAGES: readonly BootStage[] = [...BOOT_PROGRESS_STAGES, 'STALLED', 'FAILED'];

/** A file a client fetched completely during a stage. */
export interface BootFileServed {
  file: string;
  bytes: number;
  ms: number;
  blksize: number | null;
}

/**
 * A boot session changed stage (stream `boot-<mac>`). Per-file facts are not events: they are
 * aggregated here (`files`, `missing`: those of `previousStage`, since the last change).
 */
export interface BootStageChangedData {
  mac: string;
  sessionId: string;
  stage: BootStage;
  /** null when this event starts the session. */
  previousStage: BootStage | null;
  /** ISO-8601. */
  at: string;
  ip: string | null;
  /** Milliseconds since the session began. */
  sessionMs: number;
  /** Milliseconds spent in `previousStage` (0 when it starts the session). */
  previousStageMs: number;
  /** Files served completely in `previousStage` (at most 64: the first ones). */
  files: BootFileServed[];
  /** Files asked for in `previousStage` that do not exist (at most 64). */
  missing: string[];
  /** The last request seen (`tftp.file-missing start4.elf`...), null when none. */
  lastRequest: string | null;
  /** Why (STALLED and FAILED only). */
  cause: string | null;
  /** The directory user who logged in (USER_LOGGED_IN), else the session's so far. */
  username: string | null;
  /** `RPi4`, `pc-uefi`..., when known. */
  model: string | null;
}

// ---------------------------------------------------------------------------------------------
// The catalogue

/** Every core event type → the shape of its data. */
export interface CoreEventCatalogue {
  ClientDetected: ClientDetectedData;
  /** A known client seen again in a new boot (at most once per client per boot). */
  ClientRedetected: ClientDetectedData;
  ClientAddressLearned: { mac: string; ip: string };
  ClientApproved: ClientApprovedData;
  ClientRejected: { mac: string };
  ClientRenamed: { mac: string; name: string };
  ClientImageAssigned: { mac: string; imageId: string | null };
  ClientBootConfigChanged: ClientBootConfigChangedData;
  ClientRemoved: { mac: string };

  UserCreated: UserCreatedData;
  UserPasswordChanged: { username: string; passwordHash: string };
  UserGroupsChanged: { username: string; groups: string[] };
  UserFullNameChanged: { username: string; fullName: string };
  UserDisabled: { username: string };
  UserEnabled: { username: string };
  UserDeleted: { username: string };
  UidNumberAllocated: { uidNumber: number; username: string };

  GroupCreated: { name: string; gidNumber: number };
  GroupMembersChanged: GroupMembersChangedData;
  GroupDeleted: { name: string };
  GidNumberAllocated: { gidNumber: number; name: string };

  ImageRegistered: ImageRegisteredData;
  ImageImported: ImageImportedData;
  ImageCloned: ImageClonedData;
  ImageRenamed: { imageId: string; name: string };
  ImageVersionCreated: ImageVersionCreatedData;
  ImageCommandFailed: ImageCommandFailedData;
  /** The version Pis boot from now on (a Pi keeps the version it booted until it reboots). */
  ImageVersionActivated: { imageId: string; version: number; previousVersion: number };
  ImageVersionDeleted: { imageId: string; version: number };
  ImageExported: ImageExportedData;
  ImageDeleted: { imageId: string };

  SettingsUpdated: SettingsUpdatedData;

  BootProgressed: BootProgressedData;
  BootStageChanged: BootStageChangedData;

  /** An API token: only the SHA-256 of the token is kept. */
  ApiTokenIssued: { name: string; sha256: string };
  ApiTokenRevoked: { name: string };

  /** A unique name (user, group, image...) taken by its owner's stream. */
  UniqueKeyClaimed: { kind: string; key: string; owner: string };
  UniqueKeyReleased: { kind: string; key: string; owner: string };
}

export type CoreEventType = keyof CoreEventCatalogue;

/** The event type names of each aggregate, as constants (`ClientEventTypes.ClientApproved === 'ClientApproved'`). */
function names<const T extends readonly CoreEventType[]>(...types: T): { readonly [K in T[number]]: K } {
  return Object.freeze(Object.fromEntries(types.map((t) => [t, t]))) as { readonly [K in T[number]]: K };
}

export const ClientEventTypes = names(
  'ClientDetected',
  'ClientRedetected',
  'ClientAddressLearned',
  'ClientApproved',
  'ClientRejected',
  'ClientRenamed',
  'ClientImageAssigned',
  'ClientBootConfigChanged',
  'ClientRemoved',
);
export const UserEventTypes = names(
  'UserCreated',
  'UserPasswordChanged',
  'UserGroupsChanged',
  'UserFullNameChanged',
  'UserDisabled',
  'UserEnabled',
  'UserDeleted',
  'UidNumberAllocated',
);
export const GroupEventTypes = names('GroupCreated', 'GroupMembersChanged', 'GroupDeleted', 'GidNumberAllocated');
export const ImageEventTypes = names(
  'ImageRegistered',
  'ImageImported',
  'ImageCloned',
  'ImageRenamed',
  'ImageVersionCreated',
  'ImageCommandFailed',
  'ImageVersionActivated',
  'ImageVersionDeleted',
  'ImageExported',
  'ImageDeleted',
);
export const SettingsEventTypes = names('SettingsUpdated');
export const BootEventTypes = names('BootProgressed', 'BootStageChanged');
export const AuthEventTypes = names('ApiTokenIssued', 'ApiTokenRevoked');
export const UniqueKeyEventTypes = names('UniqueKeyClaimed', 'UniqueKeyReleased');

/** Every core event type name as a constant. */
export const CoreEventTypes: { readonly [K in CoreEventType]: K } = {
  ...ClientEventTypes,
  ...UserEventTypes,
  ...GroupEventTypes,
  ...ImageEventTypes,
  ...SettingsEventTypes,
  ...BootEventTypes,
  ...AuthEventTypes,
  ...UniqueKeyEventTypes,
};

/** Every core event type name. */
export const CORE_EVENT_TYPES: readonly CoreEventType[] = Object.values(CoreEventTypes);

/**
 * The recorded events of a catalogue, as a union discriminated by `type`:
 * `EventOf<CoreEventCatalogue, 'ClientApproved' | 'ClientRemoved'>`.
 */
export type EventOf<C, T extends keyof C = keyof C> = T extends string ? RecordedEvent<T, C[T]> : never;

/** A core event (all of them, or those of the types given). */
export type CoreEvent<T extends CoreEventType = CoreEventType> = EventOf<CoreEventCatalogue, T>;
