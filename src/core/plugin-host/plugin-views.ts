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
    const s = this.state();
    const record =
      view === 'clients'
        ? s.clients.get(key)
        : view === 'users'
          ? s.users.get(key)
          : view === 'groups'
            ? s.groups.get(key)
            : s.images.get(key);
    const change: ViewChange<unknown> = { key, record: record ?? null, position: event.position };
    for (const listener of set) listener(change);
  }

  /** The views as one plugin sees them; `guard` wraps its listeners so a throw is logged, not spread. */
  forPlugin(guard: (fn: () => void) => void): PluginViews {
    const s = this.state;
    const onChange =
      <T>(view: ViewName) =>
      (listener: (change: ViewChange<T>) => void): (() => void) => {
        const wrapped: Listener = (change) => guard(() => listener(change as ViewChange<T>));
        this.listeners[view].add(wrapped);
        return () => this.listeners[view].delete(wrapped);
      };
    const clients: ClientsView = {
      get: (mac) => s().clients.get(mac) ?? null,
      byIp: (ip) => {
        const mac = s().clientByIp.get(ip);
        return mac ? (s().clients.get(mac) ?? null) : null;
      },
      bySerial: (serial) => {
        const mac = s().clientBySerial.get(serial.toLowerCase());
        return mac ? (s().clients.get(mac) ?? null) : null;
      },
      list: () => sortedValues<ClientRecord>(s().clients),
      get size() {
        return s().clients.size;
      },
      onChange: onChange<ClientRecord>('clients'),
    };
    const images: ReadonlyView<ImageRecord> = {
      get: (id) => s().images.get(id) ?? null,
      list: () => sortedValues<ImageRecord>(s().images),
      get size() {
        return s().images.size;
      },
      onChange: onChange<ImageRecord>('images'),
    };
    const users: ReadonlyView<UserRecord> = {
      get: (name) => s().users.get(name) ?? null,
      list: () => sortedValues<UserRecord>(s().users),
      get size() {
        return s().users.size;
      },
      onChange: onChange<UserRecord>('users'),
    };
    const groups: GroupsView = {
      get: (name) => s().groups.get(name) ?? null,
      list: () => sortedValues<GroupRecord>(s().groups),
      memberOf: (username) =>
        sortedValues<GroupRecord>(s().groups)
          .filter((g) => g.members.includes(username))
          .map((g) => g.name),
      get size() {
        return s().groups.size;
      },
      onChange: onChange<GroupRecord>('groups'),
    };
    return Object.freeze({ clients, images, users, groups });
  }

  /** Listeners per view (tests, health). */
  listenerCount(view: ViewName): number {
    return this.listeners[view].size;
  }
}
