/**
 * The DHCP plugin's setup (dhcp.config.ts): its own settings validated once, with a message naming
 * the key, and the effective settings mapped to the DhcpConfig the decider reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Settings } from '../../src/core/plugin-api/plugin';
import { DEFAULT_SETTINGS } from '../../src/core/domain/settings/settings.events';
import {
  buildDhcpConfig,
  DEFAULT_DHCP_PLUGIN_SETTINGS,
  pluginSettings,
  validateDhcpSettings,
} from '../../src/plugins/dhcp/dhcp.config';
import { intToIp, ipToInt } from '../../src/plugins/dhcp/dhcp.decider';

function settings(over: Partial<Settings> = {}): Settings {
  return { ...structuredClone(DEFAULT_SETTINGS), ...over };
}

/** The message, asserted to start with `key: `. */
function rejects(values: Record<string, unknown>, key: string): string {
  const message = validateDhcpSettings(values);
  assert.ok(message !== null, `expected ${JSON.stringify(values)} to be rejected`);
  assert.ok(message.startsWith(`${key}: `), `"${message}" names ${key}`);
  return message;
}

describe('validateDhcpSettings', () => {
  it('accepts nothing set, and each key at its default', () => {
    assert.equal(validateDhcpSettings({}), null);
    assert.equal(validateDhcpSettings({ ...DEFAULT_DHCP_PLUGIN_SETTINGS }), null);
  });

  describe('pi3ReplyDelayMs', () => {
    for (const ok of [0, 1, 1000, 5000]) {
      it(`accepts ${ok}`, () => assert.equal(validateDhcpSettings({ pi3ReplyDelayMs: ok }), null));
    }
    for (const bad of [-1, 5001, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1000', null, true, [1000]]) {
      it(`rejects ${JSON.stringify(bad) ?? String(bad)} (${typeof bad})`, () => {
        assert.equal(rejects({ pi3ReplyDelayMs: bad }, 'pi3ReplyDelayMs'), 'pi3ReplyDelayMs: an integer from 0 to 5000');
      });
    }
  });

  describe('fixedAddresses', () => {
    it('accepts an empty map and a map of lower-case MACs to distinct IPv4 addresses', () => {
      assert.equal(validateDhcpSettings({ fixedAddresses: {} }), null);
      assert.equal(
        validateDhcpSettings({ fixedAddresses: { 'dc:a6:32:01:36:c2': '10.0.0.7', 'b8:27:eb:00:00:01': '10.0.0.8' } }),
        null,
      );
    });

    for (const bad of [null, [], ['10.0.0.7'], 'dc:a6:32:01:36:c2=10.0.0.7', 7]) {
      it(`rejects a value that is not an object: ${JSON.stringify(bad)}`, () => {
        assert.equal(rejects({ fixedAddresses: bad }, 'fixedAddresses'), 'fixedAddresses: an object of MAC → IPv4 address');
      });
    }

    for (const mac of ['DC:A6:32:01:36:C2', 'dc-a6-32-01-36-c2', 'dca6320136c2', 'dc:a6:32:01:36', 'dc:a6:32:01:36:c2:00', 'zz:a6:32:01:36:c2', '']) {
      it(`rejects the MAC ${JSON.stringify(mac)}, naming it`, () => {
        const message = rejects({ fixedAddresses: { [mac]: '10.0.0.7' } }, 'fixedAddresses');
        assert.ok(message.includes(`${mac}: not a lower-case aa:bb:cc:dd:ee:ff MAC`), message);
      });
    }

    for (const ip of ['10.0.0.256', '10.0.0', '010.0.0.7', 'fe80::1', 'pi.local', '', 7, null]) {
      it(`rejects the address ${JSON.stringify(ip)}, naming the MAC`, () => {
        const message = rejects({ fixedAddresses: { 'dc:a6:32:01:36:c2': ip } }, 'fixedAddresses');
        assert.equal(message, 'fixedAddresses: dc:a6:32:01:36:c2: not an IPv4 address');
      });
    }

    it('rejects one address given to two clients, naming the address', () => {
      const message = rejects({ fixedAddresses: { 'dc:a6:32:01:36:c2': '10.0.0.7', 'dc:a6:32:01:36:c3': '10.0.0.7' } }, 'fixedAddresses');
      assert.equal(message, 'fixedAddresses: 10.0.0.7 is given to two clients');
    });
  });

  it('rejects an unknown key, naming it and the known ones', () => {
    assert.equal(validateDhcpSettings({ leaseSeconds: 60 }), 'leaseSeconds: unknown setting (pi3ReplyDelayMs, fixedAddresses)');
  });

  it('reports the first bad key when several are bad, and finds a bad key next to good ones', () => {
    assert.ok(validateDhcpSettings({ pi3ReplyDelayMs: -1, fixedAddresses: [] })!.startsWith('pi3ReplyDelayMs: '));
    rejects({ pi3ReplyDelayMs: 1000, fixedAddresses: { 'dc:a6:32:01:36:c2': 'x' } }, 'fixedAddresses');
  });
});

describe('buildDhcpConfig', () => {
  it('defaults: proxy mode, no range, no fixed addresses, Pi 3 delay 1000 ms, one-hour lease', () => {
    const cfg = buildDhcpConfig(settings(), '10.0.0.1');
    assert.equal(cfg.mode, 'proxy');
    assert.equal(cfg.serverIp, '10.0.0.1');
    assert.equal(cfg.rangeStart, null);
    assert.equal(cfg.rangeEnd, null);
    assert.equal(cfg.netmask, null);
    assert.equal(cfg.gateway, null);
    assert.deepEqual(cfg.dnsServers, []);
    assert.equal(cfg.leaseSeconds, 3600);
    assert.equal(cfg.fixed.size, 0);
    assert.equal(cfg.pi3DelayMs, 1000);
  });

  it('the server address is the one given (the settings\' serverIp is resolved by the caller), null included', () => {
    assert.equal(buildDhcpConfig(settings({ serverIp: '10.0.0.9' }), '10.0.0.1').serverIp, '10.0.0.1');
    assert.equal(buildDhcpConfig(settings(), null).serverIp, null);
  });

  it('full mode: the range as unsigned 32-bit numbers, netmask, gateway, DNS and lease time as set', () => {
    const cfg = buildDhcpConfig(
      settings({
        dhcpMode: 'full',
        dhcpRangeStart: '192.168.1.100',
        dhcpRangeEnd: '192.168.1.250',
        dhcpNetmask: '255.255.255.0',
        gateway: '192.168.1.1',
        dnsServers: ['192.168.1.1', '9.9.9.9'],
        dhcpLeaseSeconds: 7200,
      }),
      '192.168.1.2',
    );
    assert.equal(cfg.mode, 'full');
    // 192.168.1.100 = 0xc0a80164: above 2^31, so it must come out unsigned, not negative.
    assert.equal(cfg.rangeStart, 0xc0a80164);
    assert.equal(cfg.rangeEnd, 0xc0a801fa);
    assert.equal(cfg.rangeEnd! - cfg.rangeStart! + 1, 151);
    assert.equal(cfg.netmask, '255.255.255.0');
    assert.equal(cfg.gateway, '192.168.1.1');
    assert.deepEqual(cfg.dnsServers, ['192.168.1.1', '9.9.9.9']);
    assert.equal(cfg.leaseSeconds, 7200);
  });

  it('settings.plugins.dhcp: fixed addresses as a MAC → IPv4 map, the Pi 3 delay (0 kept, not defaulted)', () => {
    const cfg = buildDhcpConfig(
      settings({ plugins: { dhcp: { pi3ReplyDelayMs: 0, fixedAddresses: { 'dc:a6:32:01:36:c2': '10.0.0.7', 'b8:27:eb:00:00:01': '10.0.0.8' } } } }),
      '10.0.0.1',
    );
    assert.equal(cfg.pi3DelayMs, 0);
    assert.deepEqual([...cfg.fixed], [['dc:a6:32:01:36:c2', '10.0.0.7'], ['b8:27:eb:00:00:01', '10.0.0.8']]);
    assert.equal(cfg.fixed.get('dc:a6:32:01:36:c2'), '10.0.0.7');
  });

  it('only one of the plugin\'s keys set: the other keeps its default', () => {
    assert.equal(buildDhcpConfig(settings({ plugins: { dhcp: { fixedAddresses: { 'dc:a6:32:01:36:c2': '10.0.0.7' } } } }), null).pi3DelayMs, 1000);
    assert.equal(buildDhcpConfig(settings({ plugins: { dhcp: { pi3ReplyDelayMs: 250 } } }), null).fixed.size, 0);
    assert.deepEqual(pluginSettings(settings({ plugins: { other: { x: 1 } } })), DEFAULT_DHCP_PLUGIN_SETTINGS);
  });

  it('building a config does not share or change the defaults', () => {
    const cfg = buildDhcpConfig(settings({ plugins: { dhcp: { fixedAddresses: { 'dc:a6:32:01:36:c2': '10.0.0.7' } } } }), null);
    assert.equal(cfg.fixed.size, 1);
    assert.deepEqual(DEFAULT_DHCP_PLUGIN_SETTINGS, { pi3ReplyDelayMs: 1000, fixedAddresses: {} });
    assert.equal(buildDhcpConfig(settings(), null).fixed.size, 0);
  });
});

describe('ipToInt / intToIp', () => {
  for (const [ip, n] of [
    ['0.0.0.0', 0],
    ['10.0.0.1', 0x0a000001],
    ['127.255.255.255', 0x7fffffff],
    ['128.0.0.0', 0x80000000],
    ['192.168.1.100', 0xc0a80164],
    ['255.255.255.255', 0xffffffff],
  ] as const) {
    it(`${ip} ↔ ${n}`, () => {
      assert.equal(ipToInt(ip), n);
      assert.equal(intToIp(n), ip);
    });
  }

  it('order of addresses is order of numbers (what the range scan relies on)', () => {
    assert.ok(ipToInt('10.0.0.255') + 1 === ipToInt('10.0.1.0'));
    assert.ok(ipToInt('192.168.1.100') < ipToInt('192.168.1.250'));
  });
});
