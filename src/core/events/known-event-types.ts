import { AuthEventType } from '../auth/auth.events';
import { BootEventType } from '../domain/boot/boot.events';
import { ClientEventType } from '../domain/client/client.events';
import { GroupEventType } from '../domain/group/group.events';
import { ImageEventType } from '../domain/image/image.events';
import { SettingsEventType } from '../domain/settings/settings.events';
import { UserEventType } from '../domain/user/user.events';

/** Every event type the core writes. Plugins add theirs (PluginDefinition.emits). */
export const CORE_EVENT_TYPES: readonly string[] = [
  ...Object.values(ClientEventType),
  ...Object.values(UserEventType),
  ...Object.values(GroupEventType),
  ...Object.values(ImageEventType),
  ...Object.values(SettingsEventType),
  ...Object.values(BootEventType),
  ...Object.values(AuthEventType),
];
