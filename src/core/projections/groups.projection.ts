import { GroupEventType } from '../domain/group/group.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import type { Projection } from './projection';
import type { ReadModelState } from './read-models';

export const groupsProjection: Projection = {
  name: 'groups',
  handles: [GroupEventType.GroupCreated, GroupEventType.GroupMembersChanged, GroupEventType.GroupDeleted],
  apply(state: ReadModelState, event: RecordedEvent): void {
    const d = event.data as Record<string, unknown> & { name: string };
    switch (event.type) {
      case GroupEventType.GroupCreated:
        state.groups.set(d.name, { name: d.name, gidNumber: d.gidNumber as number, members: [], createdAt: event.metadata.timestamp });
        break;
      case GroupEventType.GroupMembersChanged: {
        const g = state.groups.get(d.name);
        if (g) g.members = [...(d.members as string[])];
        break;
      }
      case GroupEventType.GroupDeleted:
        state.groups.delete(d.name);
        break;
    }
  },
};
