/**
 * Events are never rewritten: a store written by bramble 0.1 (test/fixtures/stores/v0.1.0, with
 * SettingsUpdated in the old shape) replays through the upcaster to the same effective settings,
 * now owned by the plugins, and to the same clients, users, groups and images.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { UpdatePluginSettingsCommand } from '../../../src/core/commands/system.commands';
import { commandMeta } from '../../../src/core/commands/meta';
import { upcastSettingsUpdatedV1 } from '../../../src/core/domain/settings/settings.upcast';
import { SqliteEventStore } from '../../../src/core/event-store/sqlite/sqlite.event-store';
import { PluginRegistry } from '../../../src/core/plugin-host/plugin-registry';
import { createDhcpPlugin } from '../../../src/plugins/dhcp/dhcp.plugin';
import { startCoreApp, type CoreApp } from '../../support/core-app';
import { tempDir } from '../../support/temp';

/** From dist/test/core back to the repository's fixtures (they are not compiled). */
const FIXTURE = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'stores', 'v0.1.0');

interface Expected {
  settings: Record<string, unknown> & {
    interface: string;
    serverIp: string;
    ldapBaseDn: string;
    plugins: Record<string, Record<string, unknown>>;
  };
  users: Record<string, unknown>[];
  groups: Record<string, unknown>[];
  clients: Record<string, unknown>[];
  images: Record<string, unknown>[];
}

/** The DHCP plugin without sockets: its settings are what this test is about. */
const dhcpWithoutSockets = createDhcpPlugin({
  probeIntervalMs: 0,
  createFd: () => {
    throw new Error('no sockets in this test');
  },
});

async function start(dataDir: string): Promise<CoreApp> {
  // Not the fixture's interface and address: the environment does not pin them here.
  return startCoreApp({ dataDir, plugins: [dhcpWithoutSockets] });
}

function dhcpSettings(core: CoreApp): Record<string, unknown> {
  return core.app.nest
    .get(PluginRegistry)
    .describe()
    .find((p) => p.name === 'dhcp')!.settings;
}

describe('a store written by bramble 0.1 (SettingsUpdated version 1)', () => {
  const expected = JSON.parse(readFileSync(path.join(FIXTURE, 'expected-read-models.json'), 'utf8')) as Expected;

  it('replays to the same effective settings, now split into global and plugin-owned', async () => {
    const dir = tempDir();
    copyFileSync(path.join(FIXTURE, 'events.db'), path.join(dir.dir, 'events.db'));
    const core = await start(dir.dir);
    try {
      const old = expected.settings;
      assert.deepEqual(core.queries.settings(), { interface: old.interface, serverIp: old.serverIp });
      assert.deepEqual(dhcpSettings(core), {
        mode: old.dhcpMode,
        rangeStart: old.dhcpRangeStart,
        rangeEnd: old.dhcpRangeEnd,
        netmask: old.dhcpNetmask,
        leaseSeconds: old.dhcpLeaseSeconds,
        gateway: old.gateway,
        dnsServers: old.dnsServers,
        // 0.1 replaced plugins.dhcp as a whole: the later change without pi3ReplyDelayMs reset it.
        pi3ReplyDelayMs: 1000,
        fixedAddresses: old.plugins.dhcp.fixedAddresses,
      });
      const stored = core.queries.storedSettings().plugins;
      assert.deepEqual(stored.ldap, { baseDn: old.ldapBaseDn }, 'the LDAP plugin will find its base DN');
      assert.deepEqual(stored['webhook-notifier'], old.plugins['webhook-notifier'], "a third-party plugin's values are kept");

      const strip = (rows: readonly object[], ...keys: string[]) =>
        rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !keys.includes(k))));
      assert.deepEqual(strip(core.queries.users(), 'passwordHash'), expected.users);
      assert.deepEqual(JSON.parse(JSON.stringify(core.queries.groups())), expected.groups);
      // Fields added since 0.1 (image versions, a client's booted version) come with their defaults.
      assert.deepEqual(JSON.parse(JSON.stringify(strip(core.queries.clients(), 'bootedImage'))), expected.clients);
      assert.ok(core.queries.clients().every((c) => c.bootedImage === null));
      const imageFields = ['version', 'versions', 'managed', 'architecture', 'osRelease', 'converted'];
      assert.deepEqual(JSON.parse(JSON.stringify(strip(core.queries.images(), ...imageFields))), expected.images);
      for (const image of core.queries.images()) {
        assert.deepEqual(
          [image.version, image.managed, image.converted, image.versions.map((v) => [v.version, v.reason, v.path])],
          [1, false, false, [[1, 'registered', image.path]]],
          'a 0.1 image is version 1 of its registered folder',
        );
      }

      // A change now is written in the new shape, next to the old ones, and both replay.
      await core.exec(new UpdatePluginSettingsCommand({ plugin: 'dhcp', values: { leaseSeconds: 600 } }, commandMeta('admin:t')));
    } finally {
      await core.app.close();
    }

    const raw = await SqliteEventStore.open({ file: path.join(dir.dir, 'events.db') });
    try {
      const events = await raw.readStream('settings');
      assert.deepEqual(
        events.map((e) => e.metadata.schemaVersion),
        [1, 1, 1, 1, 1, 1, 2],
        'old events are never rewritten',
      );
      assert.ok('changes' in (events[0].data as object), 'the stored old event keeps its old shape');
      assert.deepEqual(events[6].data, { plugins: { dhcp: { set: { leaseSeconds: 600 } } } });
    } finally {
      await raw.close();
    }

    const again = await start(dir.dir);
    try {
      assert.equal(dhcpSettings(again).leaseSeconds, 600);
      assert.equal(dhcpSettings(again).rangeEnd, expected.settings.dhcpRangeEnd);
    } finally {
      await again.close();
      dir.cleanup();
    }
  });
});

describe('upcastSettingsUpdatedV1', () => {
  it('maps the core DHCP fields onto the DHCP plugin (merged key by key)', () => {
    assert.deepEqual(
      upcastSettingsUpdatedV1({ changes: { dhcpMode: 'full', dhcpLeaseSeconds: 60, gateway: null, dnsServers: ['1.1.1.1'] } }),
      {
        plugins: { dhcp: { set: { mode: 'full', leaseSeconds: 60, gateway: null, dnsServers: ['1.1.1.1'] } } },
      },
    );
  });

  it('keeps interface and serverIp global, and gives ldapBaseDn to the LDAP plugin', () => {
    assert.deepEqual(upcastSettingsUpdatedV1({ changes: { interface: 'eth1', serverIp: null, ldapBaseDn: 'dc=a' } }), {
      global: { interface: 'eth1', serverIp: null },
      plugins: { ldap: { set: { baseDn: 'dc=a' } } },
    });
  });

  it("replacing plugins.dhcp resets only dhcp's own 0.1 keys, not the fields that came from the core", () => {
    assert.deepEqual(upcastSettingsUpdatedV1({ changes: { dhcpRangeEnd: '10.0.0.9', plugins: { dhcp: { fixedAddresses: {} } } } }), {
      plugins: { dhcp: { set: { rangeEnd: '10.0.0.9', fixedAddresses: {} }, unset: ['pi3ReplyDelayMs'] } },
    });
  });

  it("another plugin's values replace its stored ones as a whole, as they did", () => {
    assert.deepEqual(upcastSettingsUpdatedV1({ changes: { plugins: { other: { a: 1 } } } }), {
      plugins: { other: { set: { a: 1 }, replace: true } },
    });
  });

  it('tolerates damaged data: nothing is invented', () => {
    for (const data of [null, 7, {}, { changes: null }, { changes: { plugins: { x: 'not an object' } } }]) {
      assert.deepEqual(upcastSettingsUpdatedV1(data), {});
    }
  });
});
