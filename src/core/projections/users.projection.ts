import { defineProjection, unhandled } from './projection';

export const usersProjection = defineProjection({
  name: 'users',
  handles: ['UserCreated', 'UserPasswordChanged', 'UserGroupsChanged', 'UserFullNameChanged', 'UserDisabled', 'UserEnabled', 'UserDeleted'],
  apply(state, event) {
    const at = event.metadata.timestamp;
    const username = event.data.username;
    if (event.type === 'UserCreated') {
      const d = event.data;
      state.users.set(
        username,
        Object.freeze({
          username,
          uidNumber: d.uidNumber,
          gidNumber: d.gidNumber,
          fullName: d.fullName,
          groups: Object.freeze([...d.groups]),
          enabled: true,
          passwordHash: d.passwordHash,
          createdAt: at,
          updatedAt: at,
        }),
      );
      return;
    }
    const u = state.users.get(username);
    if (!u) return;
    switch (event.type) {
      case 'UserPasswordChanged':
        state.users.set(username, Object.freeze({ ...u, passwordHash: event.data.passwordHash, updatedAt: at }));
        return;
      case 'UserGroupsChanged':
        state.users.set(username, Object.freeze({ ...u, groups: Object.freeze([...event.data.groups]), updatedAt: at }));
        return;
      case 'UserFullNameChanged':
        state.users.set(username, Object.freeze({ ...u, fullName: event.data.fullName, updatedAt: at }));
        return;
      case 'UserDisabled':
        state.users.set(username, Object.freeze({ ...u, enabled: false, updatedAt: at }));
        return;
      case 'UserEnabled':
        state.users.set(username, Object.freeze({ ...u, enabled: true, updatedAt: at }));
        return;
      case 'UserDeleted':
        state.users.delete(username);
        return;
      default:
        unhandled(event);
    }
  },
});
