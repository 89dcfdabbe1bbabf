import { initialSettings } from '../domain/settings/settings.decider';
import type { SettingsState } from '../domain/settings/settings.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import type { CoreEvent } from '../plugin-api/events';
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
] as readonly Projection[];

export function emptyReadModels(): ReadModelState {
  return {
    clients: new Map(),
    clientByIp: new Map(),
    clientBySerial: new Map(),
    users: new Map(),
    groups: new Map(),
    images: new Map(),
    settings: initialSettings(),
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
    for (const p of list) p.apply(state, event as CoreEvent);
    return true;
  }
}

/** Version of the snapshot layout and of the projections' logic: bump to force a rebuild. */
// 3: records frozen; settings split into global and plugin values; API tokens carry issuedBy.
export const READ_MODEL_VERSION = 3;

export interface SerializedReadModels {
  clients: [string, unknown][];
  clientByIp: [string, string][];
  clientBySerial: [string, string][];
  users: [string, unknown][];
  groups: [string, unknown][];
  images: [string, unknown][];
  settings: SettingsState;
  tokens: [string, unknown][];
}

export function serializeReadModels(s: ReadModelState): SerializedReadModels {
  return {
    clients: [...s.clients],
    clientByIp: [...s.clientByIp],
    clientBySerial: [...s.clientBySerial],
    users: [...s.users],
    groups: [...s.groups],
    images: [...s.images],
    settings: s.settings,
    tokens: [...s.tokens],
  };
}

function frozenMap<T extends object>(entries: [string, unknown][]): Map<string, T> {
  return new Map(entries.map(([k, v]) => [k, Object.freeze(v as T)]));
}

/** The read models from a snapshot (records frozen again). */
export function deserializeReadModels(o: SerializedReadModels): ReadModelState {
  const state = emptyReadModels();
  state.clients = frozenMap(o.clients);
  // The indexes are kept, not derived: two clients may have used one address over time.
  state.clientByIp = new Map(o.clientByIp);
  state.clientBySerial = new Map(o.clientBySerial);
  state.users = frozenMap(o.users);
  state.groups = frozenMap(o.groups);
  state.images = frozenMap(o.images);
  state.settings = o.settings;
  state.tokens = frozenMap(o.tokens);
  return state;
}
