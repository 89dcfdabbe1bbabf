import { defineProjection, unhandled } from './projection';

export const groupsProjection = defineProjection({
  name: 'groups',
  handles: ['GroupCreated', 'GroupMembersChanged', 'GroupDeleted'],
  apply(state, event) {
    const name = event.data.name;
    switch (event.type) {
      case 'GroupCreated':
        state.groups.set(
          name,
          Object.freeze({ name, gidNumber: event.data.gidNumber, members: Object.freeze([]), createdAt: event.metadata.timestamp }),
        );
        return;
      case 'GroupMembersChanged': {
        const g = state.groups.get(name);
        if (g) state.groups.set(name, Object.freeze({ ...g, members: Object.freeze([...event.data.members]) }));
        return;
      }
      case 'GroupDeleted':
        state.groups.delete(name);
        return;
      default:
        unhandled(event);
    }
  },
});
