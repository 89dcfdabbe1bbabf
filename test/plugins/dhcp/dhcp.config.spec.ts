/**
 * The DHCP plugin's setup (dhcp.config.ts): its settings schema (checked by bramble, with a message
 * and a field path), its cross-field checks on the whole effective settings, and the effective
 * settings mapped to the DhcpConfig the decider reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPluginValues, effectivePluginSettings } from '../../../src/core/domain/settings/plugin-settings';
import { intToIpv4, ipv4ToInt, type GlobalSettings } from '../../../src/core/plugin-api';
import { buildDhcpConfig, checkDhcpSettings, DhcpSettingsSchema, type DhcpSettings } from '../../../src/plugins/dhcp/dhcp.config';

const settings = (over: Record<string, unknown> = {}): DhcpSettings => effectivePluginSettings(DhcpSettingsSchema, over) as DhcpSettings;
const global = (over: Partial<GlobalSettings> = {}): GlobalSettings => ({ interface: 'eth0', serverIp: null, ...over });

/** The problem of `values` against the schema, asserted to be on `field`. */
function rejects(values: Record<string, unknown>, field: string): string {
  const problem = checkPluginValues(DhcpSettingsSchema, values);
  assert.ok(problem !== null, `expected ${JSON.stringify(values)} to be rejected`);
  assert.equal(problem.field, field);
  return problem.message;
}

describe('DHCP settings schema', () => {
  it('accepts nothing set, and every key at its default', () => {
    assert.equal(checkPluginValues(DhcpSettingsSchema, {}), null);
    assert.equal(checkPluginValues(DhcpSettingsSchema, settings()), null);
  });

  it('the defaults: proxy mode, no range, one-hour lease, Pi 3 delay 1000 ms, no DNS, no fixed addresses', () => {
    assert.deepEqual(settings(), {
      mode: 'proxy',
      rangeStart: null,
      rangeEnd: null,
      netmask: null,
      leaseSeconds: 3600,
      gateway: null,
      dnsServers: [],
      pi3ReplyDelayMs: 1000,
      fixedAddresses: {},
    });
  });

  it('every key has a description (the dashboard draws its form from the schema)', () => {
    for (const [key, schema] of Object.entries(DhcpSettingsSchema.properties)) {
      assert.ok(typeof schema.description === 'string' && schema.description.length > 10, key);
      assert.ok('default' in schema, `${key} has a default`);
    }
  });

  describe('pi3ReplyDelayMs', () => {
    for (const ok of [0, 1, 1000, 5000])
      it(`accepts ${ok}`, () => assert.equal(checkPluginValues(DhcpSettingsSchema, { pi3ReplyDelayMs: ok }), null));
    for (const bad of [-1, 5001, 1.5, Number.NaN, '1000', null, true, [1000]]) {
      it(`rejects ${JSON.stringify(bad) ?? String(bad)} (${typeof bad})`, () => {
        assert.equal(rejects({ pi3ReplyDelayMs: bad }, 'pi3ReplyDelayMs'), 'must be an integer from 0 to 5000');
      });
    }
  });

  describe('fixedAddresses', () => {
    it('accepts an empty map and a map of lower-case MACs to IPv4 addresses', () => {
      assert.equal(checkPluginValues(DhcpSettingsSchema, { fixedAddresses: {} }), null);
      assert.equal(
        checkPluginValues(DhcpSettingsSchema, { fixedAddresses: { 'dc:a6:32:01:36:c2': '10.0.0.7', 'b8:27:eb:00:00:01': '10.0.0.8' } }),
        null,
      );
    });
    for (const bad of [null, [], ['10.0.0.7'], 'dc:a6:32:01:36:c2=10.0.0.7', 7]) {
      it(`rejects a value that is not an object: ${JSON.stringify(bad)}`, () => {
        assert.match(rejects({ fixedAddresses: bad }, 'fixedAddresses'), /^must be an object whose keys match/);
      });
    }
    for (const mac of ['DC:A6:32:01:36:C2', 'dc-a6-32-01-36-c2', 'dca6320136c2', 'dc:a6:32:01:36', 'zz:a6:32:01:36:c2', '']) {
      it(`rejects the MAC ${JSON.stringify(mac)}, naming it in the field path`, () => {
        assert.match(rejects({ fixedAddresses: { [mac]: '10.0.0.7' } }, `fixedAddresses.${mac}`), /^not an accepted key/);
      });
    }
    for (const ip of ['10.0.0.256', '10.0.0', '010.0.0.7', 'fe80::1', 'pi.local', '', 7, null]) {
      it(`rejects the address ${JSON.stringify(ip)}, naming the MAC`, () => {
        assert.equal(
          rejects({ fixedAddresses: { 'dc:a6:32:01:36:c2': ip } }, 'fixedAddresses.dc:a6:32:01:36:c2'),
          'must be an IPv4 address (e.g. 10.0.0.1)',
        );
      });
    }
  });

  it('the other keys: each bad value is named with what it must be', () => {
    assert.equal(rejects({ mode: 'FULL' }, 'mode'), 'must be one of proxy, full');
    assert.equal(rejects({ rangeStart: '10.0.0.300' }, 'rangeStart'), 'must be an IPv4 address (e.g. 10.0.0.1) or null');
    assert.equal(rejects({ netmask: '255.0.255.0' }, 'netmask'), 'must be a contiguous netmask (e.g. 255.255.255.0) or null');
    assert.equal(rejects({ leaseSeconds: 59 }, 'leaseSeconds'), 'must be an integer from 60 to 31536000');
    assert.equal(rejects({ gateway: 5 }, 'gateway'), 'must be an IPv4 address (e.g. 10.0.0.1) or null');
    assert.equal(rejects({ dnsServers: ['10.0.0.1', 'dns'] }, 'dnsServers.1'), 'must be an IPv4 address (e.g. 10.0.0.1)');
  });

  it('more than 3 DNS servers are refused (a Linux resolver uses no more)', () => {
    assert.equal(checkPluginValues(DhcpSettingsSchema, { dnsServers: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] }), null);
    assert.match(rejects({ dnsServers: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'] }, 'dnsServers'), /at most 3 items/);
  });

  for (const key of ['leaseTime', 'constructor', '__proto__', 'toString']) {
    it(`refuses the unknown key ${key}, naming the known ones`, () => {
      const values = JSON.parse(`{"${key}": 1}`) as Record<string, unknown>;
      assert.match(rejects(values, key), /^unknown setting \(known: mode, rangeStart, .*fixedAddresses\)$/);
    });
  }
});

describe('checkDhcpSettings (the settings as a whole)', () => {
  const full = (over: Record<string, unknown> = {}): DhcpSettings =>
    settings({ mode: 'full', rangeStart: '10.0.0.100', rangeEnd: '10.0.0.200', netmask: '255.255.255.0', gateway: '10.0.0.254', ...over });
  const fields = (s: DhcpSettings, g = global({ serverIp: '10.0.0.1' })): string[] => checkDhcpSettings(s, g).map((p) => p.field);

  it('a consistent full-mode setup and the proxy default have no problems', () => {
    assert.deepEqual(checkDhcpSettings(full(), global({ serverIp: '10.0.0.1' })), []);
    assert.deepEqual(checkDhcpSettings(settings(), global()), []);
  });

  it('full mode needs the range and the netmask', () => {
    assert.deepEqual(fields(settings({ mode: 'full' }), global()), ['rangeStart', 'rangeEnd', 'netmask']);
  });

  it('the range must not run backwards', () => {
    assert.deepEqual(fields(full({ rangeStart: '10.0.0.200', rangeEnd: '10.0.0.100' })), ['rangeStart']);
  });

  it("the server's own address inside the pool is refused (blamed on the range)", () => {
    const problems = checkDhcpSettings(full(), global({ serverIp: '10.0.0.150' }));
    assert.deepEqual(problems, [
      { field: 'rangeStart', message: "the pool 10.0.0.100-10.0.0.200 contains the server's own address 10.0.0.150" },
    ]);
  });

  it('the gateway inside the pool is refused', () => {
    assert.deepEqual(fields(full({ gateway: '10.0.0.120' })), ['gateway']);
  });

  it('a fixed address may not be the server, the gateway, taken twice, or outside the subnet', () => {
    assert.deepEqual(fields(full({ fixedAddresses: { 'dc:a6:32:00:00:01': '10.0.0.1' } })), ['fixedAddresses.dc:a6:32:00:00:01']);
    assert.deepEqual(fields(full({ fixedAddresses: { 'dc:a6:32:00:00:01': '10.0.0.254' } })), ['fixedAddresses.dc:a6:32:00:00:01']);
    assert.deepEqual(fields(full({ fixedAddresses: { 'dc:a6:32:00:00:01': '10.0.0.7', 'dc:a6:32:00:00:02': '10.0.0.7' } })), [
      'fixedAddresses.dc:a6:32:00:00:02',
    ]);
    const outside = checkDhcpSettings(full({ fixedAddresses: { 'dc:a6:32:00:00:01': '10.9.0.7' } }), global({ serverIp: '10.0.0.1' }));
    assert.deepEqual(outside, [{ field: 'fixedAddresses.dc:a6:32:00:00:01', message: '10.9.0.7 is not in the subnet 10.0.0.0/24' }]);
  });

  it("every address must lie in the server's subnet; range ends may not be its network or broadcast address", () => {
    assert.deepEqual(fields(full({ rangeEnd: '10.0.1.20', gateway: null })), ['rangeEnd']);
    assert.deepEqual(fields(full({ gateway: '192.168.0.1' })), ['gateway']);
    assert.deepEqual(checkDhcpSettings(full({ rangeStart: '10.0.0.0' }), global({ serverIp: '10.0.0.250' })), [
      { field: 'rangeStart', message: '10.0.0.0 is the network address of 10.0.0.0/24' },
    ]);
    assert.deepEqual(fields(full({ rangeEnd: '10.0.0.255', gateway: '10.0.0.1' }), global({ serverIp: '10.0.0.2' })), ['rangeEnd']);
  });

  it('without a server address, the subnet is the one the range starts in', () => {
    assert.deepEqual(fields(full({ gateway: '10.0.1.1' }), global()), ['gateway']);
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
    assert.equal(buildDhcpConfig(settings(), null).serverIp, null);
  });

  it('full mode: the range as unsigned 32-bit numbers, netmask, gateway, DNS and lease time as set', () => {
    const cfg = buildDhcpConfig(
      settings({
        mode: 'full',
        rangeStart: '192.168.1.100',
        rangeEnd: '192.168.1.250',
        netmask: '255.255.255.0',
        gateway: '192.168.1.1',
        dnsServers: ['192.168.1.1', '9.9.9.9'],
        leaseSeconds: 7200,
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

  it('fixed addresses as a MAC → IPv4 map; the Pi 3 delay 0 is kept, not defaulted', () => {
    const cfg = buildDhcpConfig(
      settings({ pi3ReplyDelayMs: 0, fixedAddresses: { 'dc:a6:32:01:36:c2': '10.0.0.7', 'b8:27:eb:00:00:01': '10.0.0.8' } }),
      '10.0.0.1',
    );
    assert.equal(cfg.pi3DelayMs, 0);
    assert.deepEqual(
      [...cfg.fixed],
      [
        ['dc:a6:32:01:36:c2', '10.0.0.7'],
        ['b8:27:eb:00:00:01', '10.0.0.8'],
      ],
    );
  });

  it('building a config shares nothing with the settings it came from', () => {
    const s = settings({ dnsServers: ['10.0.0.1'] });
    const cfg = buildDhcpConfig(s, null);
    cfg.dnsServers.push('10.0.0.2');
    assert.deepEqual(s.dnsServers, ['10.0.0.1']);
  });
});

describe('ipv4ToInt / intToIpv4 (the contract helpers DHCP uses)', () => {
  for (const [ip, n] of [
    ['0.0.0.0', 0],
    ['10.0.0.1', 0x0a000001],
    ['127.255.255.255', 0x7fffffff],
    ['128.0.0.0', 0x80000000],
    ['192.168.1.100', 0xc0a80164],
    ['255.255.255.255', 0xffffffff],
  ] as const) {
    it(`${ip} ↔ ${n}`, () => {
      assert.equal(ipv4ToInt(ip), n);
      assert.equal(intToIpv4(n), ip);
    });
  }

  it('order of addresses is order of numbers (what the range scan relies on)', () => {
    assert.ok(ipv4ToInt('10.0.0.255') + 1 === ipv4ToInt('10.0.1.0'));
    assert.ok(ipv4ToInt('192.168.1.100') < ipv4ToInt('192.168.1.250'));
  });
});
