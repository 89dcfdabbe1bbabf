import { applySettingsUpdate } from '../domain/settings/settings.decider';
import { defineProjection } from './projection';

export const settingsProjection = defineProjection({
  name: 'settings',
  handles: ['SettingsUpdated'],
  apply(state, event) {
    state.settings = applySettingsUpdate(state.settings, event.data);
  },
});
