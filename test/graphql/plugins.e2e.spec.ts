/**
 * The `plugins` query and `updatePluginSettings` over HTTP: what a dashboard needs to list plugins
 * with their health and draw a settings form from each one's JSON Schema.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { definePlugin, Ipv4, Nullable, Type, type PluginFactory } from '../../src/core/plugin-api';
import { startHarness, type Harness } from '../support/app-harness';

const lamp: PluginFactory = () =>
  definePlugin({
    name: 'lamp',
    description: 'Lights a lamp when a Pi boots.',
    consumes: ['ClientDetected'],
    project() {},
    settings: Type.Object(
      {
        colour: Type.Union([Type.Literal('red'), Type.Literal('green')], { default: 'green', description: 'Colour of the lamp.' }),
        controller: Nullable(Ipv4(), { default: null, description: 'Address of the lamp controller.' }),
      },
      { additionalProperties: false },
    ),
    start() {},
    health: () => ({ status: 'up', checks: { lit: 0 } }),
  });

describe('GraphQL API: plugins and their settings', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ plugins: [lamp] });
  });
  after(() => h.close());

  it('lists each plugin with state, health, events, effective settings and the JSON Schema of its settings', async () => {
    const res = await h.ok('{ plugins { name source state status detail checks description consumes emits settings settingsSchema } }');
    assert.equal(res.plugins.length, 1);
    const p = res.plugins[0];
    assert.deepEqual(
      { ...p, settingsSchema: undefined },
      {
        name: 'lamp',
        source: 'built-in',
        state: 'started',
        status: 'up',
        detail: null,
        checks: { lit: 0 },
        description: 'Lights a lamp when a Pi boots.',
        consumes: ['ClientDetected'],
        emits: [],
        settings: { colour: 'green', controller: null },
        settingsSchema: undefined,
      },
    );
    assert.equal(p.settingsSchema.type, 'object');
    assert.equal(p.settingsSchema.additionalProperties, false);
    assert.deepEqual(p.settingsSchema.properties.colour.default, 'green');
    assert.equal(p.settingsSchema.properties.controller.description, 'Address of the lamp controller.');
  });

  it('updatePluginSettings sets the keys given and answers with the plugin; bad values are VALIDATION on <plugin>.<key>', async () => {
    const ok = await h.ok('mutation { updatePluginSettings(plugin: "lamp", values: { controller: "10.0.0.9" }) { settings } }');
    assert.deepEqual(ok.updatePluginSettings.settings, { colour: 'green', controller: '10.0.0.9' });
    const viaVariables = await h.ok('mutation ($v: JSON!) { updatePluginSettings(plugin: "lamp", values: $v) { settings } }', {
      v: { colour: 'red' },
    });
    assert.deepEqual(viaVariables.updatePluginSettings.settings, { colour: 'red', controller: '10.0.0.9' });

    const cases: [string, string][] = [
      ['mutation { updatePluginSettings(plugin: "lamp", values: { colour: "blue" }) { name } }', 'lamp.colour'],
      ['mutation { updatePluginSettings(plugin: "lamp", values: { controller: "10.0.0.999" }) { name } }', 'lamp.controller'],
      ['mutation { updatePluginSettings(plugin: "lamp", values: { brightness: 3 }) { name } }', 'lamp.brightness'],
      ['mutation { updatePluginSettings(plugin: "lamp", values: { __proto__: { colour: "red" } }) { name } }', 'lamp.__proto__'],
      ['mutation { updatePluginSettings(plugin: "lamp", values: { constructor: 1 }) { name } }', 'lamp.constructor'],
      ['mutation { updatePluginSettings(plugin: "lamp", values: [1, 2]) { name } }', 'values'],
      ['mutation { updatePluginSettings(plugin: "nosuch", values: {}) { name } }', 'plugin'],
    ];
    for (const [query, field] of cases) {
      const res = await h.gql(query);
      assert.equal(res.errors?.[0]?.extensions?.code, 'VALIDATION', query);
      assert.equal(res.errors?.[0]?.extensions?.field, field, query);
    }
    const reset = await h.ok('mutation { updatePluginSettings(plugin: "lamp", values: {}, reset: ["colour"]) { settings } }');
    assert.deepEqual(reset.updatePluginSettings.settings, { colour: 'green', controller: '10.0.0.9' });
  });

  it('needs the token', async () => {
    const res = await h.gql('{ plugins { name } }', {}, null);
    assert.equal(res.status, 401);
    assert.equal(res.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });
});
