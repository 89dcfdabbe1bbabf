import type { Settings } from '../domain/settings/settings.events';

/** The admin's view of one Pi. */
export interface ClientView {
  mac: string;
  status: 'pending' | 'approved' | 'rejected';
  name: string | null;
  imageId: string | null;
  serial: string | null;
  model: string | null;
  ip: string | null;
  configTxt: string;
  cmdlineArgs: string;
  /** Approved before it was ever seen (typed in or imported). */
  preRegistered: boolean;
  detectedAt: string | null;
  lastSeenAt: string | null;
  approvedAt: string | null;
  updatedAt: string;
}

/** One user. `passwordHash` stays inside the core and plugins: never returned by the API. */
export interface UserView {
  username: string;
  uidNumber: number;
  gidNumber: number;
  fullName: string;
  groups: string[];
  enabled: boolean;
  passwordHash: string;
  createdAt: string;
  updatedAt: string;
}

export interface GroupView {
  name: string;
  gidNumber: number;
  members: string[];
  createdAt: string;
}

export interface ImageView {
  id: string;
  name: string;
  path: string;
  bootPath: string;
  registeredAt: string;
}

export interface ApiTokenView {
  /** The label (`admin:<name>` is the actor of what the token does). */
  name: string;
  sha256: string;
  issuedAt: string;
  /** Actor of the ApiTokenIssued event (`system` for the generated first token). */
  issuedBy: string;
}

/**
 * Every read model, as plain maps so that projections are fast and the whole state can be
 * snapshotted. One projection writes each model (projections/*.projection.ts).
 */
export interface ReadModelState {
  clients: Map<string, ClientView>;
  /** Current IPv4 → MAC of a client, for plugins that only see an address (TFTP, NFS). */
  clientByIp: Map<string, string>;
  users: Map<string, UserView>;
  groups: Map<string, GroupView>;
  images: Map<string, ImageView>;
  settings: Settings;
  tokens: Map<string, ApiTokenView>;
}

export const READ_MODEL_KEYS = ['clients', 'clientByIp', 'users', 'groups', 'images', 'tokens'] as const;
