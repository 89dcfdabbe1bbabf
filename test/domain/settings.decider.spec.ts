import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applySettingsChanges,
  netmaskPrefix,
  settingsDecider,
  type PluginSettingsValidator,
  type UpdateSettings,
} from '../../src/core/domain/settings/settings.decider';
import { DEFAULT_SETTINGS, type Settings, type SettingsEvent } from '../../src/core/domain/settings/settings.events';
import { decider } from '../support/given-when-then';

const settings = decider(settingsDecider);

const dhcpValidator: PluginSettingsValidator = (values) => {
  for (const [key, value] of Object.entries(values)) {
    if (key !== 'rangeStart' && key !== 'verbose') return `${key}: unknown key`;
    if (key === 'rangeStart' && typeof value !== 'string') return 'rangeStart: not an IPv4 address';
  }
  return null;
};

const update = (
  changes: Partial<Settings> | Record<string, unknown>,
  pinned: UpdateSettings['pinned'] = {},
  pluginValidators: UpdateSettings['pluginValidators'] = { dhcp: dhcpValidator },
): UpdateSettings => ({ type: 'UpdateSettings', changes: changes as Partial<Settings>, pinned, pluginValidators });

const updated = (changes: Partial<Settings>): SettingsEvent => ({ type: 'SettingsUpdated', data: { changes } });

const fullMode = updated({
  dhcpMode: 'full',
  dhcpRangeStart: '192.168.10.100',
  dhcpRangeEnd: '192.168.10.200',
  dhcpNetmask: '255.255.255.0',
  serverIp: '192.168.10.1',
});

describe('settings decider', () => {
  it('starts from the defaults', () => {
    assert.deepEqual(settings.given([]).state(), DEFAULT_SETTINGS);
  });

  it('initial state is a copy: changing it does not change the defaults', () => {
    const state = settingsDecider.initialState();
    state.dnsServers.push('1.1.1.1');
    state.plugins.x = {};
    assert.deepEqual(DEFAULT_SETTINGS.dnsServers, []);
    assert.deepEqual(DEFAULT_SETTINGS.plugins, {});
  });

  describe('UpdateSettings', () => {
    it('records only the fields that change', () => {
      settings
        .given([])
        .when(update({ dhcpMode: 'proxy', dhcpLeaseSeconds: 7200, ldapBaseDn: 'dc=bramble,dc=local', gateway: null }))
        .then([updated({ dhcpLeaseSeconds: 7200 })]);
    });

    it('nothing changed produces nothing', () => {
      settings.given([]).when(update({ dhcpMode: 'proxy', dnsServers: [] })).thenNothing();
      settings.given([]).when(update({})).thenNothing();
    });

    it('switches to full mode with a range, netmask, gateway and DNS servers', () => {
      const changes: Partial<Settings> = {
        dhcpMode: 'full',
        dhcpRangeStart: '192.168.10.100',
        dhcpRangeEnd: '192.168.10.200',
        dhcpNetmask: '255.255.255.0',
        gateway: '192.168.10.1',
        dnsServers: ['192.168.10.1', '9.9.9.9'],
      };
      settings.given([]).when(update(changes)).then([updated(changes)]);
    });

    it('the state holds the changes', () => {
      const state = settings.given([fullMode]).when(update({ dhcpLeaseSeconds: 600 })).state();
      assert.equal(state.dhcpMode, 'full');
      assert.equal(state.dhcpLeaseSeconds, 600);
      assert.equal(state.serverIp, '192.168.10.1');
    });

    for (const field of ['dhcpRangeStart', 'dhcpRangeEnd', 'gateway', 'serverIp'] as const) {
      it(`${field}: not an IPv4 address`, () => {
        const error = settings.given([]).when(update({ [field]: '192.168.1.300' })).thenThrows('VALIDATION', field);
        assert.equal(error.message, `${field}: not an IPv4 address`);
      });
    }

    it('dnsServers: each must be IPv4', () => {
      settings.given([]).when(update({ dnsServers: ['1.1.1.1', 'dns.example'] })).thenThrows('VALIDATION', 'dnsServers');
      settings.given([]).when(update({ dnsServers: '1.1.1.1' })).thenThrows('VALIDATION', 'dnsServers');
    });

    it('dhcpMode: proxy or full', () => {
      settings.given([]).when(update({ dhcpMode: 'relay' })).thenThrows('VALIDATION', 'dhcpMode');
    });

    it('dhcpNetmask: must be a contiguous mask', () => {
      settings.given([]).when(update({ dhcpNetmask: '255.0.255.0' })).thenThrows('VALIDATION', 'dhcpNetmask');
      settings.given([]).when(update({ dhcpNetmask: '0.0.0.0' })).thenThrows('VALIDATION', 'dhcpNetmask');
      settings.given([]).when(update({ dhcpNetmask: '24' })).thenThrows('VALIDATION', 'dhcpNetmask');
      assert.equal(settings.given([]).when(update({ dhcpNetmask: '255.255.252.0' })).events().length, 1);
    });

    it('dhcpLeaseSeconds: an integer from 60 to 31536000', () => {
      for (const bad of [59, 31536001, 3600.5, '3600']) {
        settings.given([]).when(update({ dhcpLeaseSeconds: bad })).thenThrows('VALIDATION', 'dhcpLeaseSeconds');
      }
      assert.equal(settings.given([]).when(update({ dhcpLeaseSeconds: 60 })).events().length, 1);
      assert.equal(settings.given([]).when(update({ dhcpLeaseSeconds: 31536000 })).events().length, 1);
    });

    it('interface: a short name of safe characters', () => {
      for (const good of ['eth0', 'enp3s0', 'br-lan', 'eth0.10', 'eth0:1']) {
        assert.equal(settings.given([]).when(update({ interface: good })).events().length, 1, good);
      }
      for (const bad of ['', 'a'.repeat(16), 'eth 0', 'eth0;rm']) {
        settings.given([]).when(update({ interface: bad })).thenThrows('VALIDATION', 'interface');
      }
    });

    it('ldapBaseDn: attr=value parts, spaces after commas normalised', () => {
      settings
        .given([])
        .when(update({ ldapBaseDn: 'dc=school, dc=example' }))
        .then([updated({ ldapBaseDn: 'dc=school,dc=example' })]);
      assert.equal(settings.given([]).when(update({ ldapBaseDn: 'ou=people,o=Lab-3' })).events().length, 1);
      for (const bad of ['school.example', 'dc=school,,dc=example', 'dc=', '=school', 'dc=a=b', 'dc=school;dc=x', '']) {
        settings.given([]).when(update({ ldapBaseDn: bad })).thenThrows('VALIDATION', 'ldapBaseDn');
      }
    });

    it('an unknown key is an error naming it', () => {
      const error = settings.given([]).when(update({ dhcpRange: '1.2.3.4' })).thenThrows('VALIDATION', 'dhcpRange');
      assert.match(error.message, /^dhcpRange: /);
    });

    describe('full mode needs a range and a netmask', () => {
      it('names dhcpRangeStart first', () => {
        settings.given([]).when(update({ dhcpMode: 'full' })).thenThrows('VALIDATION', 'dhcpRangeStart');
      });

      it('then dhcpRangeEnd', () => {
        settings
          .given([])
          .when(update({ dhcpMode: 'full', dhcpRangeStart: '10.0.0.10' }))
          .thenThrows('VALIDATION', 'dhcpRangeEnd');
      });

      it('then dhcpNetmask', () => {
        settings
          .given([])
          .when(update({ dhcpMode: 'full', dhcpRangeStart: '10.0.0.10', dhcpRangeEnd: '10.0.0.20' }))
          .thenThrows('VALIDATION', 'dhcpNetmask');
      });

      it('clearing a required field while in full mode is refused', () => {
        settings.given([fullMode]).when(update({ dhcpNetmask: null })).thenThrows('VALIDATION', 'dhcpNetmask');
      });

      it('proxy mode needs none of them', () => {
        assert.equal(settings.given([fullMode]).when(update({ dhcpMode: 'proxy', dhcpNetmask: null })).events().length, 1);
      });
    });

    it('the range start must not be after its end', () => {
      settings
        .given([fullMode])
        .when(update({ dhcpRangeStart: '192.168.10.201' }))
        .thenThrows('VALIDATION', 'dhcpRangeStart');
      assert.equal(
        settings.given([fullMode]).when(update({ dhcpRangeStart: '192.168.10.200' })).events().length,
        1,
        'a range of one address is fine',
      );
    });

    it('compares addresses numerically, not as text', () => {
      assert.equal(
        settings
          .given([])
          .when(update({ dhcpRangeStart: '10.0.0.9', dhcpRangeEnd: '10.0.0.10' }))
          .events().length,
        1,
      );
    });

    describe('the range and gateway lie in the subnet', () => {
      it('of the server address', () => {
        const error = settings
          .given([fullMode])
          .when(update({ dhcpRangeEnd: '192.168.11.5' }))
          .thenThrows('VALIDATION', 'dhcpRangeEnd');
        assert.match(error.message, /192\.168\.10\.0\/24/);
        settings.given([fullMode]).when(update({ gateway: '10.0.0.1' })).thenThrows('VALIDATION', 'gateway');
      });

      it('a changed server address must keep them inside', () => {
        settings.given([fullMode]).when(update({ serverIp: '192.168.20.1' })).thenThrows('VALIDATION', 'dhcpRangeStart');
      });

      it('a narrower netmask must keep them inside', () => {
        settings
          .given([fullMode])
          .when(update({ dhcpNetmask: '255.255.255.128' }))
          .thenThrows('VALIDATION', 'dhcpRangeEnd'); // .200 is outside 192.168.10.0/25
      });

      it('of the range start when there is no server address', () => {
        settings
          .given([])
          .when(update({ dhcpRangeStart: '10.0.0.10', dhcpRangeEnd: '10.0.1.10', dhcpNetmask: '255.255.255.0' }))
          .thenThrows('VALIDATION', 'dhcpRangeEnd');
      });

      it('the range must not hold the network or broadcast address', () => {
        settings.given([fullMode]).when(update({ dhcpRangeEnd: '192.168.10.255' })).thenThrows('VALIDATION', 'dhcpRangeEnd');
        settings.given([fullMode]).when(update({ dhcpRangeStart: '192.168.10.0' })).thenThrows('VALIDATION', 'dhcpRangeStart');
      });

      it('without a netmask nothing is checked', () => {
        assert.equal(
          settings.given([]).when(update({ dhcpRangeStart: '10.0.0.10', gateway: '172.16.0.1' })).events().length,
          1,
        );
      });
    });

    describe('pinned fields', () => {
      it('changing a pinned field is refused, naming the variable', () => {
        const error = settings
          .given([])
          .when(update({ serverIp: '10.0.0.1' }, { serverIp: 'BRAMBLE_SERVER_IP' }))
          .thenThrows('SETTING_PINNED', 'serverIp');
        assert.equal(error.message, 'serverIp: set by BRAMBLE_SERVER_IP');
      });

      it('sending a pinned field unchanged is fine', () => {
        settings.given([]).when(update({ interface: null, dhcpLeaseSeconds: 120 }, { interface: 'BRAMBLE_INTERFACE' })).then([
          updated({ dhcpLeaseSeconds: 120 }),
        ]);
      });

      it('other fields can change', () => {
        assert.equal(
          settings.given([]).when(update({ gateway: '10.0.0.1' }, { serverIp: 'BRAMBLE_SERVER_IP' })).events().length,
          1,
        );
      });
    });

    describe('plugin settings', () => {
      it('are checked by the plugin and recorded per plugin', () => {
        settings
          .given([])
          .when(update({ plugins: { dhcp: { rangeStart: '10.0.0.1' } } }))
          .then([updated({ plugins: { dhcp: { rangeStart: '10.0.0.1' } } })]);
      });

      it("a plugin's values replace its previous ones; other plugins keep theirs", () => {
        const before = updated({ plugins: { dhcp: { rangeStart: '10.0.0.1', verbose: true }, tftp: { blockSize: 1468 } } });
        const state = settings
          .given([before])
          .when(update({ plugins: { dhcp: { verbose: false } } }, {}, { dhcp: dhcpValidator, tftp: () => null }))
          .state();
        assert.deepEqual(state.plugins, { dhcp: { verbose: false }, tftp: { blockSize: 1468 } });
      });

      it('unchanged plugin values produce nothing', () => {
        const before = updated({ plugins: { dhcp: { rangeStart: '10.0.0.1' } } });
        settings.given([before]).when(update({ plugins: { dhcp: { rangeStart: '10.0.0.1' } } })).thenNothing();
      });

      it('only the plugins that change are recorded', () => {
        const before = updated({ plugins: { dhcp: { rangeStart: '10.0.0.1' } } });
        settings
          .given([before])
          .when(update({ plugins: { dhcp: { rangeStart: '10.0.0.1' }, tftp: { blockSize: 512 } } }, {}, { dhcp: dhcpValidator, tftp: () => null }))
          .then([updated({ plugins: { tftp: { blockSize: 512 } } })]);
      });

      it("a plugin's error is prefixed with plugins.<name>.", () => {
        const error = settings
          .given([])
          .when(update({ plugins: { dhcp: { rangeStart: 5 } } }))
          .thenThrows('VALIDATION', 'plugins.dhcp.rangeStart');
        assert.equal(error.message, 'plugins.dhcp.rangeStart: not an IPv4 address');
      });

      it('a plugin that does not exist is an error', () => {
        const error = settings.given([]).when(update({ plugins: { nope: {} } })).thenThrows('VALIDATION', 'plugins.nope');
        assert.equal(error.message, 'plugins.nope: no such plugin');
      });

      it("a plugin's values must be an object", () => {
        settings.given([]).when(update({ plugins: { dhcp: [1] } })).thenThrows('VALIDATION', 'plugins.dhcp');
        settings.given([]).when(update({ plugins: 'x' })).thenThrows('VALIDATION', 'plugins');
      });

      it('a validator that throws is reported as a validation error of its plugin', () => {
        const broken: PluginSettingsValidator = () => {
          throw new Error('boom');
        };
        settings
          .given([])
          .when(update({ plugins: { dhcp: {} } }, {}, { dhcp: broken }))
          .thenThrows('VALIDATION', 'plugins.dhcp');
      });
    });
  });

  describe('applySettingsChanges', () => {
    it('applies changes without touching the input', () => {
      const before = applySettingsChanges(DEFAULT_SETTINGS, {});
      const after = applySettingsChanges(before, { dnsServers: ['1.1.1.1'], plugins: { a: { x: 1 } } });
      assert.deepEqual(before.dnsServers, []);
      assert.deepEqual(before.plugins, {});
      assert.deepEqual(after.dnsServers, ['1.1.1.1']);
      assert.deepEqual(after.plugins, { a: { x: 1 } });
    });

    it('ignores unknown keys', () => {
      const after = applySettingsChanges(DEFAULT_SETTINGS, { bogus: 1 } as Partial<Settings>);
      assert.deepEqual(after, DEFAULT_SETTINGS);
    });
  });

  it('netmaskPrefix', () => {
    assert.equal(netmaskPrefix('255.255.255.0'), 24);
    assert.equal(netmaskPrefix('255.255.255.255'), 32);
    assert.equal(netmaskPrefix('128.0.0.0'), 1);
    assert.equal(netmaskPrefix('255.255.0.255'), null);
    assert.equal(netmaskPrefix('nope'), null);
  });

  it('evolve ignores unknown events', () => {
    assert.deepEqual(settings.given([{ type: 'Other', data: { changes: { dhcpMode: 'full' } } }]).state(), DEFAULT_SETTINGS);
  });
});
