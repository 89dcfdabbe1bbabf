/**
 * The settings decider, given / when / then: the global settings (interface, server address) and
 * each plugin's own values, checked against the plugins' schemas and cross-checks before a
 * SettingsUpdated (schema version 2) is recorded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Type } from '@sinclair/typebox';
import {
  applySettingsUpdate,
  initialSettings,
  settingsDecider,
  type PluginSettingsSpec,
  type UpdateGlobalSettings,
  type UpdatePluginSettings,
} from '../../../src/core/domain/settings/settings.decider';
import type { GlobalSettings, SettingsEvent, SettingsUpdatedData } from '../../../src/core/domain/settings/settings.events';
import { Ipv4, Nullable } from '../../../src/core/plugin-api';
import { decider } from '../../support/given-when-then';

const settings = decider(settingsDecider);

const lab: PluginSettingsSpec = {
  schema: Type.Object(
    {
      mode: Type.Union([Type.Literal('a'), Type.Literal('b')], { default: 'a' }),
      target: Nullable(Ipv4(), { default: null }),
      tags: Type.Array(Type.String(), { default: [] }),
    },
    { additionalProperties: false },
  ),
  check: (values, global) =>
    values.target !== null && values.target === global.serverIp ? [{ field: 'target', message: 'is the server itself' }] : [],
};
const plugins = { lab, bare: { schema: null } as PluginSettingsSpec };
const global: GlobalSettings = { interface: 'eth0', serverIp: '10.0.0.1' };

const updateGlobal = (changes: Record<string, unknown>, pinned: UpdateGlobalSettings['pinned'] = {}): UpdateGlobalSettings => ({
  type: 'UpdateGlobalSettings',
  changes: changes as Partial<GlobalSettings>,
  pinned,
  plugins,
});
const updatePlugin = (
  plugin: string,
  set: Record<string, unknown>,
  unset: string[] = [],
  g: GlobalSettings = global,
): UpdatePluginSettings => ({
  type: 'UpdatePluginSettings',
  plugin,
  set,
  unset,
  global: g,
  plugins,
});
const updated = (data: SettingsUpdatedData): SettingsEvent => ({ type: 'SettingsUpdated', data });
const PINNED_SERVER_IP = { variable: 'BRAMBLE_SERVER_IP', value: '10.0.0.5' };

describe('settings decider', () => {
  it('starts with no interface, no server address and no plugin values', () => {
    assert.deepEqual(settings.given([]).state(), { global: { interface: null, serverIp: null }, plugins: {} });
    const a = initialSettings();
    a.global.interface = 'x';
    assert.equal(initialSettings().global.interface, null, 'each initial state is a copy');
  });

  describe('UpdateGlobalSettings', () => {
    it('records only the fields that change', () => {
      settings
        .given([updated({ global: { interface: 'eth0' } })])
        .when(updateGlobal({ interface: 'eth0', serverIp: '10.0.0.1' }))
        .then([updated({ global: { serverIp: '10.0.0.1' } })]);
    });

    it('nothing changed produces nothing; null is a value (unset)', () => {
      settings
        .given([])
        .when(updateGlobal({ interface: null }))
        .thenNothing();
      settings
        .given([updated({ global: { serverIp: '10.0.0.1' } })])
        .when(updateGlobal({ serverIp: null }))
        .then([updated({ global: { serverIp: null } })]);
    });

    for (const [field, value] of [
      ['serverIp', '10.0.0.256'],
      ['serverIp', 7],
      ['interface', 'eth0; rm -rf'],
      ['interface', 'x'.repeat(16)],
    ] as const) {
      it(`refuses ${field} = ${JSON.stringify(value)} with VALIDATION on ${field}`, () => {
        settings
          .given([])
          .when(updateGlobal({ [field]: value }))
          .thenThrows('VALIDATION', field);
      });
    }

    for (const key of ['dhcpMode', 'ldapBaseDn', 'constructor', '__proto__', 'plugins']) {
      it(`refuses the key ${key} by name (plugin settings have their own command)`, () => {
        settings
          .given([])
          .when(updateGlobal(JSON.parse(`{"${key}": "x"}`) as Record<string, unknown>))
          .thenThrows('VALIDATION', key);
      });
    }

    it('a field pinned by the environment cannot change (SETTING_PINNED names the variable)', () => {
      const e = settings
        .given([])
        .when(updateGlobal({ serverIp: '10.0.0.9' }, { serverIp: PINNED_SERVER_IP }))
        .thenThrows('SETTING_PINNED', 'serverIp');
      assert.match(e.message, /BRAMBLE_SERVER_IP/);
    });

    it('a pinned field sent back with the value the environment gives it is not a change', () => {
      settings
        .given([])
        .when(updateGlobal({ serverIp: '10.0.0.5' }, { serverIp: PINNED_SERVER_IP }))
        .thenNothing();
    });

    it('the cross-checks see the pinned values, not the stored ones', () => {
      // Stored: no server address; in effect: BRAMBLE_SERVER_IP=10.0.0.5, lab's target.
      const e = settings
        .given([updated({ plugins: { lab: { set: { target: '10.0.0.5' } } } })])
        .when(updateGlobal({ interface: 'eth1' }, { serverIp: PINNED_SERVER_IP }))
        .thenThrows('VALIDATION', 'interface');
      assert.match(e.message, /^interface: lab\.target: is the server itself$/);
    });

    it("runs every plugin's cross-check against the new global settings, blaming the global field", () => {
      const given = [updated({ plugins: { lab: { set: { target: '10.0.0.5' } } } })];
      const e = settings
        .given(given)
        .when(updateGlobal({ serverIp: '10.0.0.5' }))
        .thenThrows('VALIDATION', 'serverIp');
      assert.match(e.message, /^serverIp: lab\.target: is the server itself$/);
      settings
        .given(given)
        .when(updateGlobal({ serverIp: '10.0.0.6' }))
        .then([updated({ global: { serverIp: '10.0.0.6' } })]);
    });
  });

  describe('UpdatePluginSettings', () => {
    it('records the keys that change; others keep their stored values', () => {
      const given = [updated({ plugins: { lab: { set: { mode: 'b', tags: ['x'] } } } })];
      settings
        .given(given)
        .when(updatePlugin('lab', { mode: 'b', tags: ['x', 'y'] }))
        .then([updated({ plugins: { lab: { set: { tags: ['x', 'y'] } } } })]);
      const state = settings
        .given(given)
        .when(updatePlugin('lab', { target: '10.0.0.9' }))
        .state();
      assert.deepEqual(state.plugins.lab, { mode: 'b', tags: ['x'], target: '10.0.0.9' });
    });

    it('the same values again, or resetting a key never set, produce nothing', () => {
      const given = [updated({ plugins: { lab: { set: { mode: 'b' } } } })];
      settings
        .given(given)
        .when(updatePlugin('lab', { mode: 'b' }))
        .thenNothing();
      settings
        .given(given)
        .when(updatePlugin('lab', {}, ['target']))
        .thenNothing();
    });

    it('reset returns keys to their defaults (they are no longer stored)', () => {
      const given = [updated({ plugins: { lab: { set: { mode: 'b', target: '10.0.0.9' } } } })];
      settings
        .given(given)
        .when(updatePlugin('lab', {}, ['target']))
        .then([updated({ plugins: { lab: { unset: ['target'] } } })]);
      assert.deepEqual(
        settings
          .given(given)
          .when(updatePlugin('lab', {}, ['target']))
          .state().plugins.lab,
        { mode: 'b' },
      );
    });

    it('checks values against the schema, naming <plugin>.<path>', () => {
      settings
        .given([])
        .when(updatePlugin('lab', { mode: 'c' }))
        .thenThrows('VALIDATION', 'lab.mode');
      settings
        .given([])
        .when(updatePlugin('lab', { tags: ['ok', 3] }))
        .thenThrows('VALIDATION', 'lab.tags.1');
      settings
        .given([])
        .when(updatePlugin('lab', { colour: 'red' }))
        .thenThrows('VALIDATION', 'lab.colour');
      settings
        .given([])
        .when(updatePlugin('lab', {}, ['colour']))
        .thenThrows('VALIDATION', 'lab.colour');
      settings
        .given([])
        .when(updatePlugin('bare', { anything: 1 }))
        .thenThrows('VALIDATION', 'bare.anything');
    });

    it('runs the cross-check with the global settings in effect', () => {
      settings
        .given([])
        .when(updatePlugin('lab', { target: '10.0.0.1' }))
        .thenThrows('VALIDATION', 'lab.target');
      settings
        .given([])
        .when(updatePlugin('lab', { target: '10.0.0.1' }, [], { interface: null, serverIp: '10.0.0.2' }))
        .events();
    });

    it('a plugin that is not loaded has no settings to change', () => {
      settings.given([]).when(updatePlugin('nobody', {})).thenThrows('VALIDATION', 'plugin');
      settings.given([]).when(updatePlugin('toString', {})).thenThrows('VALIDATION', 'plugin');
    });

    it('a cross-check that throws is a VALIDATION error on the plugin, not a crash', () => {
      const broken = {
        lab: {
          ...lab,
          check: () => {
            throw new Error('boom');
          },
        },
      };
      const e = settings
        .given([])
        .when({ ...updatePlugin('lab', { mode: 'b' }), plugins: broken })
        .thenThrows('VALIDATION', 'lab');
      assert.match(e.message, /boom/);
    });
  });

  describe('evolve (applySettingsUpdate)', () => {
    it('keeps the values of plugins that are not loaded (a plugin may come back, or come later)', () => {
      const s = applySettingsUpdate(initialSettings(), { plugins: { later: { set: { a: 1 } } } });
      assert.deepEqual(s.plugins.later, { a: 1 });
    });

    it('replace makes the stored values exactly `set` (the meaning of version 1)', () => {
      let s = applySettingsUpdate(initialSettings(), { plugins: { x: { set: { a: 1, b: 2 } } } });
      s = applySettingsUpdate(s, { plugins: { x: { set: { c: 3 }, replace: true } } });
      assert.deepEqual(s.plugins.x, { c: 3 });
    });

    it('never shares objects with the event it applied', () => {
      const data: SettingsUpdatedData = { plugins: { x: { set: { list: [1] } } } };
      const s = applySettingsUpdate(initialSettings(), data);
      (data.plugins!.x.set!.list as number[]).push(2);
      assert.deepEqual(s.plugins.x.list, [1]);
    });
  });
});
