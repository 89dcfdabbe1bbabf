import { applySettingsChanges } from '../domain/settings/settings.decider';
import { SettingsEventType, type Settings } from '../domain/settings/settings.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import type { Projection } from './projection';
import type { ReadModelState } from './read-models';

export const settingsProjection: Projection = {
  name: 'settings',
  handles: [SettingsEventType.SettingsUpdated],
  apply(state: ReadModelState, event: RecordedEvent): void {
    const { changes } = event.data as { changes: Partial<Settings> };
    state.settings = applySettingsChanges(state.settings, changes);
  },
};
