import type { SettingsState } from '../domain/settings/settings.events';
import type { ClientRecord, GroupRecord, ImageRecord, UserRecord } from '../plugin-api/views';

/** The admin's (and plugins') view of one Pi. */
export type ClientView = ClientRecord;
/** One user. `passwordHash` stays inside the core and plugins: never returned by the API. */
export type UserView = UserRecord;
export type GroupView = GroupRecord;
export type ImageView = ImageRecord;

export interface ApiTokenView {
  /** The label (`admin:<name>` is the actor of what the token does). */
  readonly name: string;
  readonly sha256: string;
  readonly issuedAt: string;
  /** Actor of the ApiTokenIssued event (`system` for the generated first token). */
  readonly issuedBy: string;
}

/**
 * Every read model, as plain maps so that projections are fast and the whole state can be
 * snapshotted. One projection writes each model (projections/*.projection.ts). Records are frozen
 * and replaced, never changed in place: plugins and API answers may hold them.
 */
export interface ReadModelState {
  clients: Map<string, ClientView>;
  /** Current IPv4 → MAC of a client, for plugins that only see an address (TFTP, NFS). */
  clientByIp: Map<string, string>;
  /** Serial number → MAC (TFTP folders are named by serial). */
  clientBySerial: Map<string, string>;
  users: Map<string, UserView>;
  groups: Map<string, GroupView>;
  images: Map<string, ImageView>;
  /** Stored settings: global, and each plugin's values that were set. */
  settings: SettingsState;
  tokens: Map<string, ApiTokenView>;
}
