import type { GlobalSettings, PluginSettingsChange, SettingsUpdatedData } from '../../plugin-api/events';
import { SettingsEventTypes } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

export type { GlobalSettings, PluginSettingsChange, SettingsUpdatedData };

/** All settings live in one stream. */
export const SETTINGS_STREAM = 'settings';

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const SettingsEventType = SettingsEventTypes;

/** Schema version of SettingsUpdated written today (1: the shape before plugin-owned settings). */
export const SETTINGS_UPDATED_VERSION = 2;

export const DEFAULT_GLOBAL_SETTINGS: GlobalSettings = { interface: null, serverIp: null };

/**
 * The settings as stored: the global ones, and each plugin's values that were set (a plugin's
 * defaults live in its schema, so they are not stored; values of plugins not loaded now are kept).
 */
export interface SettingsState {
  global: GlobalSettings;
  plugins: Record<string, Record<string, unknown>>;
}

export type SettingsUpdated = DomainEvent<'SettingsUpdated', SettingsUpdatedData>;
export type SettingsEvent = SettingsUpdated;
