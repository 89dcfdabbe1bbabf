import { UserEventType } from '../domain/user/user.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import type { Projection } from './projection';
import type { ReadModelState } from './read-models';

export const usersProjection: Projection = {
  name: 'users',
  handles: [
    UserEventType.UserCreated,
    UserEventType.UserPasswordChanged,
    UserEventType.UserGroupsChanged,
    UserEventType.UserFullNameChanged,
    UserEventType.UserDisabled,
    UserEventType.UserEnabled,
    UserEventType.UserDeleted,
  ],
  apply(state: ReadModelState, event: RecordedEvent): void {
    const d = event.data as Record<string, unknown> & { username: string };
    const at = event.metadata.timestamp;
    if (event.type === UserEventType.UserCreated) {
      state.users.set(d.username, {
        username: d.username,
        uidNumber: d.uidNumber as number,
        gidNumber: d.gidNumber as number,
        fullName: d.fullName as string,
        groups: [...(d.groups as string[])],
        enabled: true,
        passwordHash: d.passwordHash as string,
        createdAt: at,
        updatedAt: at,
      });
      return;
    }
    const u = state.users.get(d.username);
    if (!u) return;
    switch (event.type) {
      case UserEventType.UserPasswordChanged: u.passwordHash = d.passwordHash as string; break;
      case UserEventType.UserGroupsChanged: u.groups = [...(d.groups as string[])]; break;
      case UserEventType.UserFullNameChanged: u.fullName = d.fullName as string; break;
      case UserEventType.UserDisabled: u.enabled = false; break;
      case UserEventType.UserEnabled: u.enabled = true; break;
      case UserEventType.UserDeleted: state.users.delete(d.username); return;
      default: return;
    }
    u.updatedAt = at;
  },
};
