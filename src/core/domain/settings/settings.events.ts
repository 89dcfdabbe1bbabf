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

/** The boot settings' defaults (the contract of issue 11); stored only once changed. */
export const DEFAULT_BOOT_SETTINGS: Readonly<Required<Pick<GlobalSettings, 'bootRetentionDays' | 'bootReportPort' | 'bootTimeouts'>>> =
  Object.freeze({
    bootRetentionDays: 30,
    bootReportPort: 6970,
    bootTimeouts: Object.freeze({
      dhcpSeconds: 30,
      fileSeconds: 35,
      rootMountSeconds: 120,
      bootedSeconds: 300,
      failAfterStallSeconds: 600,
    }),
  });

/** The global settings' boot fields in effect (stored values over the defaults). */
export function effectiveBootSettings(
  global: GlobalSettings,
): Required<Pick<GlobalSettings, 'bootRetentionDays' | 'bootReportPort' | 'bootTimeouts'>> {
  return {
    bootRetentionDays: global.bootRetentionDays ?? DEFAULT_BOOT_SETTINGS.bootRetentionDays,
    bootReportPort: global.bootReportPort ?? DEFAULT_BOOT_SETTINGS.bootReportPort,
    bootTimeouts: { ...DEFAULT_BOOT_SETTINGS.bootTimeouts, ...global.bootTimeouts },
  };
}

/** Keys of the global settings, in the order the API shows them. */
export const GLOBAL_SETTING_KEYS = ['interface', 'serverIp', 'bootRetentionDays', 'bootReportPort', 'bootTimeouts'] as const;

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
