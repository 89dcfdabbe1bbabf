/**
 * The read-only views plugins get (`ctx.views`, contract in plugin-api/views.ts), served from the
 * core's live read models: no copy of projection code in any plugin, no replay of client or user
 * events per plugin. Records are frozen and replaced on change (projections/*.projection.ts), so
 * handing them out is safe.
 */
import type { Observable } from 'rxjs';
import type { RecordedEvent } from '../event-store/event-store.port';
import type {
  ClientRecord,
  ClientsView,
  GroupRecord,
  GroupsView,
  ImageRecord,
  PluginViews,
  ReadonlyView,
  UserRecord,
  ViewChange,
} from '../plugin-api/views';
import { ClientEventTypes, GroupEventTypes, ImageEventTypes, UserEventTypes, type CoreEventType } from '../plugin-api/events';
import type { ReadModelState } from '../projections/read-models';

type ViewName = keyof PluginViews;

/** Which view an event type changes, and the data field holding the record's key. */
const CHANGES: Partial<Record<CoreEventType, [ViewName, string]>> = {};
const route = (types: Record<string, CoreEventType>, view: ViewName, key: string): void => {
  for (const type of Object.values(types)) CHANGES[type] = [view, key];
};
route(ClientEventTypes, 'clients', 'mac');
route(UserEventTypes, 'users', 'username');
route(GroupEventTypes, 'groups', 'name');
route(ImageEventTypes, 'images', 'imageId');
// Number allocations change no record.
delete CHANGES.UidNumberAllocated;
delete CHANGES.GidNumberAllocated;

type Listener = (change: ViewChange<unknown>) => void;

/** The read model map behind each view. */
const MAPS: { [V in ViewName]: (s: ReadModelState) => Map<string, unknown> } = {
  clients: (s) => s.clients,
  images: (s) => s.images,
  users: (s) => s.users,
  groups: (s) => s.groups,
};

function sortedValues<T>(map: Map<string, T>): T[] {
  return [...map.keys()].sort().map((k) => map.get(k)!);
}

/** One instance per bramble; each plugin's context wraps it to attribute listener failures. */
export class HostViews {
  private readonly listeners: Record<ViewName, Set<Listener>> = {
    clients: new Set(),
    images: new Set(),
    users: new Set(),
    groups: new Set(),
  };

  constructor(
    private readonly state: () => ReadModelState,
    live$: Observable<RecordedEvent>,
  ) {
    live$.subscribe((event) => this.notify(event));
  }

  private notify(event: RecordedEvent): void {
    const route = CHANGES[event.type as CoreEventType];
    if (!route) return;
    const [view, field] = route;
    const set = this.listeners[view];
    if (set.size === 0) return;
    const key = (event.data as Record<string, unknown>)[field];
    if (typeof key !== 'string') return;
    const record = MAPS[view](this.state()).get(key);
    const change: ViewChange<unknown> = { key, record: record ?? null, position: event.position };
    for (const listener of set) listener(change);
  }

  /** The views as one plugin sees them; `guard` wraps its listeners so a throw is logged, not spread. */
  forPlugin(guard: (fn: () => void) => void): PluginViews {
    const s = this.state;
    const view = <T>(name: ViewName): ReadonlyView<T> => {
      const map = (): Map<string, T> => MAPS[name](s()) as Map<string, T>;
      return {
        get: (key) => map().get(key) ?? null,
        list: () => sortedValues(map()),
        get size() {
          return map().size;
        },
        onChange: (listener) => {
          const wrapped: Listener = (change) => guard(() => listener(change as ViewChange<T>));
          this.listeners[name].add(wrapped);
          return () => this.listeners[name].delete(wrapped);
        },
      };
    };
    const byIndex = (index: Map<string, string>, key: string): ClientRecord | null => {
      const mac = index.get(key);
      return mac ? (s().clients.get(mac) ?? null) : null;
    };
    // Object.assign keeps the base view's live `size` getter (a spread would freeze its value).
    const clients: ClientsView = Object.assign(view<ClientRecord>('clients'), {
      byIp: (ip: string) => byIndex(s().clientByIp, ip),
      bySerial: (serial: string) => byIndex(s().clientBySerial, serial.toLowerCase()),
    });
    const groups: GroupsView = Object.assign(view<GroupRecord>('groups'), {
      memberOf: (username: string) =>
        sortedValues<GroupRecord>(s().groups)
          .filter((g) => g.members.includes(username))
          .map((g) => g.name),
    });
    return Object.freeze({ clients, images: view<ImageRecord>('images'), users: view<UserRecord>('users'), groups });
  }
}
