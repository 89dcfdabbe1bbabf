import { DEFAULT_SETTINGS, type Settings } from '../domain/settings/settings.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import { clientsProjection } from './clients.projection';
import { groupsProjection } from './groups.projection';
import { imagesProjection } from './images.projection';
import type { Projection } from './projection';
import type { ReadModelState } from './read-models';
import { settingsProjection } from './settings.projection';
import { tokensProjection } from './tokens.projection';
import { usersProjection } from './users.projection';

/** The core's projections, one per read model, in one explicit list. */
export const CORE_PROJECTIONS: readonly Projection[] = [
  clientsProjection,
  usersProjection,
  groupsProjection,
  imagesProjection,
  settingsProjection,
  tokensProjection,
];

export function emptyReadModels(): ReadModelState {
  return {
    clients: new Map(),
    clientByIp: new Map(),
    users: new Map(),
    groups: new Map(),
    images: new Map(),
    settings: structuredClone(DEFAULT_SETTINGS),
    tokens: new Map(),
  };
}

/** Routes each event to the projections that handle its type. */
export class ProjectionSet {
  private readonly byType = new Map<string, Projection[]>();

  constructor(projections: readonly Projection[] = CORE_PROJECTIONS) {
    for (const p of projections) {
      for (const type of p.handles) {
        const list = this.byType.get(type) ?? [];
        list.push(p);
        this.byType.set(type, list);
      }
    }
  }

  /** Applies one event; returns false when no projection handles its type. */
  apply(state: ReadModelState, event: RecordedEvent): boolean {
    const list = this.byType.get(event.type);
    if (!list) return false;
    for (const p of list) p.apply(state, event);
    return true;
  }
}

/** Version of the snapshot layout and of the projections' logic: bump to force a rebuild. */
// 2: API tokens carry issuedBy.
export const READ_MODEL_VERSION = 2;

export interface SerializedReadModels {
  clients: [string, unknown][];
  clientByIp: [string, string][];
  users: [string, unknown][];
  groups: [string, unknown][];
  images: [string, unknown][];
  settings: Settings;
  tokens: [string, unknown][];
}

export function serializeReadModels(s: ReadModelState): SerializedReadModels {
  return {
    clients: [...s.clients],
    clientByIp: [...s.clientByIp],
    users: [...s.users],
    groups: [...s.groups],
    images: [...s.images],
    settings: s.settings,
    tokens: [...s.tokens],
  };
}

export function deserializeReadModels(o: SerializedReadModels): ReadModelState {
  return {
    clients: new Map(o.clients) as ReadModelState['clients'],
    clientByIp: new Map(o.clientByIp),
    users: new Map(o.users) as ReadModelState['users'],
    groups: new Map(o.groups) as ReadModelState['groups'],
    images: new Map(o.images) as ReadModelState['images'],
    settings: { ...structuredClone(DEFAULT_SETTINGS), ...o.settings },
    tokens: new Map(o.tokens) as ReadModelState['tokens'],
  };
}
