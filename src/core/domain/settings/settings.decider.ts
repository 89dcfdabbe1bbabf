import type { Decider, DomainEvent } from '../shared/decider';
import { DomainError, ErrorCode, validationError } from '../shared/domain-error';
import { checkPluginValues, effectivePluginSettings, unknownSettingMessage, type PluginSettingsSpec } from './plugin-settings';
import {
  DEFAULT_BOOT_SETTINGS,
  DEFAULT_GLOBAL_SETTINGS,
  GLOBAL_SETTING_KEYS,
  type GlobalSettings,
  type PluginSettingsChange,
  type SettingsEvent,
  type SettingsState,
  type SettingsUpdated,
  type SettingsUpdatedData,
} from './settings.events';
import { isIpv4 } from '../../plugin-api/net';
import { isPlainObject } from '../shared/json';

export type { PluginSettingsSpec };

// ---------------------------------------------------------------------------------------------
// Commands

export interface UpdateGlobalSettings {
  type: 'UpdateGlobalSettings';
  /** The fields to set; others keep their values. */
  changes: Partial<GlobalSettings>;
  /** Fields fixed by the environment: field → the variable that sets it (BRAMBLE_SERVER_IP...) and its value. */
  pinned: Partial<Record<keyof GlobalSettings, { variable: string; value: string }>>;
  /** The loaded plugins: their cross-checks run against the new global settings. */
  plugins: Record<string, PluginSettingsSpec>;
}

export interface UpdatePluginSettings {
  type: 'UpdatePluginSettings';
  plugin: string;
  /** Keys to set (merged over the values stored now). */
  set: Record<string, unknown>;
  /** Keys to return to their defaults. */
  unset: string[];
  /** Global settings as in effect now (pins applied), for the cross-checks. */
  global: GlobalSettings;
  plugins: Record<string, PluginSettingsSpec>;
}

export type SettingsCommand = UpdateGlobalSettings | UpdatePluginSettings;

// ---------------------------------------------------------------------------------------------
// Applying changes (evolve and the settings read model)

export function initialSettings(): SettingsState {
  return { global: { ...DEFAULT_GLOBAL_SETTINGS }, plugins: {} };
}

/** Sets an own property, whatever its name (`__proto__` included: never the prototype). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function applyPluginChange(stored: Record<string, unknown> | undefined, change: PluginSettingsChange): Record<string, unknown> {
  const next: Record<string, unknown> = change.replace ? {} : { ...stored };
  for (const [key, value] of Object.entries(change.set ?? {})) put(next, key, structuredClone(value));
  for (const key of change.unset ?? []) delete next[key];
  return next;
}

/** `settings` with one SettingsUpdated (schema version 2) applied. */
export function applySettingsUpdate(settings: SettingsState, data: SettingsUpdatedData): SettingsState {
  const next: SettingsState = { global: { ...settings.global }, plugins: { ...settings.plugins } };
  for (const key of GLOBAL_SETTING_KEYS) {
    if (!data.global || !Object.hasOwn(data.global, key) || data.global[key] === undefined) continue;
    if (key === 'interface' || key === 'serverIp') next.global[key] = data.global[key] ?? null;
    else if (key === 'bootTimeouts') next.global.bootTimeouts = data.global.bootTimeouts ? { ...data.global.bootTimeouts } : undefined;
    else next.global[key] = data.global[key] ?? undefined;
    if (next.global[key] === undefined) delete next.global[key];
  }
  for (const [name, change] of Object.entries(data.plugins ?? {})) {
    next.plugins[name] = applyPluginChange(next.plugins[name], change);
  }
  return next;
}

// ---------------------------------------------------------------------------------------------
// Validation

const INTERFACE_PATTERN = /^[A-Za-z0-9_.:-]{1,15}$/;

const TIMEOUT_KEYS = Object.keys(DEFAULT_BOOT_SETTINGS.bootTimeouts) as (keyof GlobalSettings['bootTimeouts'] & string)[];

function wholeNumber(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw validationError(key, `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

/** A global setting's new value, checked (`current`: the settings now, for partial objects). */
function validateGlobalField(key: string, value: unknown, current: GlobalSettings): unknown {
  switch (key) {
    case 'bootRetentionDays':
      return wholeNumber(key, value, 1, 36_500);
    case 'bootReportPort':
      return wholeNumber(key, value, 0, 65_535);
    case 'bootTimeouts': {
      if (!isPlainObject(value)) throw validationError(key, 'must be an object of timeouts in seconds');
      const merged: Record<string, number> = { ...DEFAULT_BOOT_SETTINGS.bootTimeouts, ...current.bootTimeouts };
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || v === null) continue;
        if (!(TIMEOUT_KEYS as string[]).includes(k)) throw validationError(`${key}.${k}`, `unknown timeout (${TIMEOUT_KEYS.join(', ')})`);
        merged[k] = wholeNumber(`${key}.${k}`, v, 1, 86_400);
      }
      return merged;
    }
    case 'interface':
      if (value === null) return null;
      if (typeof value !== 'string' || !INTERFACE_PATTERN.test(value)) {
        throw validationError(key, 'must be an interface name: 1-15 letters, digits, `_`, `.`, `:` or `-`');
      }
      return value;
    case 'serverIp':
      if (value === null) return null;
      if (!isIpv4(value)) throw validationError(key, 'not an IPv4 address');
      return value;
    default:
      throw validationError(
        key,
        `unknown setting (global settings: ${GLOBAL_SETTING_KEYS.join(', ')}; the rest belongs to plugins: updatePluginSettings)`,
      );
  }
}

/** Runs a plugin's schema check and cross-check on its stored values; throws VALIDATION naming `<plugin>.<field>`. */
function validatePlugin(
  name: string,
  spec: PluginSettingsSpec,
  stored: Record<string, unknown>,
  global: GlobalSettings,
  blame?: string,
): void {
  const problem = checkPluginValues(spec.schema, stored);
  if (problem) throw new DomainError(ErrorCode.VALIDATION, `${name}.${problem.field}: ${problem.message}`, `${name}.${problem.field}`);
  if (!spec.check) return;
  let problems: { field: string; message: string }[];
  try {
    problems = spec.check(effectivePluginSettings(spec.schema, stored), global);
  } catch (error) {
    problems = [{ field: '', message: `the check failed: ${error instanceof Error ? error.message : String(error)}` }];
  }
  const first = problems[0];
  if (!first) return;
  const field = blame ?? (first.field ? `${name}.${first.field}` : name);
  const prefix = blame ? `${blame}: ${name}.${first.field}` : field;
  throw new DomainError(ErrorCode.VALIDATION, `${prefix}: ${first.message}`, field);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as never)[k], (b as never)[k]));
}

// ---------------------------------------------------------------------------------------------
// Decide

function decideGlobal(command: UpdateGlobalSettings, state: SettingsState): SettingsEvent[] {
  if (!isPlainObject(command.changes)) throw validationError('input', 'must be an object of settings');
  const changes: Partial<GlobalSettings> = {};
  for (const [key, raw] of Object.entries(command.changes)) {
    if (raw === undefined) continue;
    const value = validateGlobalField(key, raw, state.global);
    const k = key as keyof GlobalSettings;
    const pin = command.pinned[k];
    // A pinned field sent back with the value it shows (the environment's) is not a change.
    if (pin && value === pin.value) continue;
    if (deepEqual(state.global[k], value)) continue;
    if (pin) throw new DomainError(ErrorCode.SETTING_PINNED, `${key}: set by ${pin.variable}`, key);
    (changes as Record<string, unknown>)[k] = value;
  }
  if (Object.keys(changes).length === 0) return [];
  // The plugins see the pinned values, not the stored ones: check them as they will be in effect.
  const effective: GlobalSettings = { ...state.global, ...changes };
  for (const [field, pin] of Object.entries(command.pinned)) (effective as unknown as Record<string, unknown>)[field] = pin.value;
  const blame = Object.keys(changes)[0];
  for (const [name, spec] of Object.entries(command.plugins)) validatePlugin(name, spec, state.plugins[name] ?? {}, effective, blame);
  const event: SettingsUpdated = { type: 'SettingsUpdated', data: { global: changes } };
  return [event];
}

function decidePlugin(command: UpdatePluginSettings, state: SettingsState): SettingsEvent[] {
  const name = command.plugin;
  const spec = Object.hasOwn(command.plugins, name) ? command.plugins[name] : undefined;
  if (!spec) throw validationError('plugin', `no plugin named ${JSON.stringify(name)} is loaded`);
  if (!isPlainObject(command.set)) throw validationError('values', 'must be an object of settings');
  if (!Array.isArray(command.unset)) throw validationError('reset', 'must be a list of keys');
  // Keys first, before any value is looked at or copied (`__proto__`, `constructor`...).
  for (const key of [...Object.keys(command.set), ...command.unset]) {
    const message = unknownSettingMessage(spec.schema, key);
    if (message) throw validationError(`${name}.${String(key)}`, message);
  }
  const stored = state.plugins[name] ?? {};
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(command.set)) {
    if (!Object.hasOwn(stored, key) || !deepEqual(stored[key], value)) put(set, key, value);
  }
  const unset = [...new Set(command.unset)].filter((key) => Object.hasOwn(stored, key) && !Object.hasOwn(set, key));
  if (Object.keys(set).length === 0 && unset.length === 0) return [];
  const next = applyPluginChange(stored, { set, unset });
  validatePlugin(name, spec, next, command.global);
  const change: PluginSettingsChange = {};
  if (Object.keys(set).length) change.set = set;
  if (unset.length) change.unset = unset;
  const event: SettingsUpdated = { type: 'SettingsUpdated', data: { plugins: { [name]: change } } };
  return [event];
}

function decide(command: SettingsCommand, state: SettingsState): SettingsEvent[] {
  switch (command.type) {
    case 'UpdateGlobalSettings':
      return decideGlobal(command, state);
    case 'UpdatePluginSettings':
      return decidePlugin(command, state);
    default: {
      const unknown: never = command;
      throw validationError('type', `unknown command ${(unknown as { type?: string }).type}`);
    }
  }
}

function evolve(state: SettingsState, event: SettingsEvent | DomainEvent): SettingsState {
  if (event.type !== 'SettingsUpdated') return state;
  return applySettingsUpdate(state, (event as SettingsUpdated).data);
}

export const settingsDecider: Decider<SettingsState, SettingsCommand, SettingsEvent> = {
  initialState: initialSettings,
  evolve,
  decide,
};
