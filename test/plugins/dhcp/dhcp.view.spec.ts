/**
 * The DHCP plugin's view (dhcp.view.ts): given the plugin's own lease events, then the bindings
 * (and their inverse, owners), offers and declined addresses the decider reads; and its snapshot.
 * Clients come from the core's view (ctx.views.clients), tested with the core's projections.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePluginSettings } from '../../../src/core/domain/settings/plugin-settings';
import type { RecordedEvent } from '../../../src/core/plugin-api';
import type { DhcpPacket } from '../../../src/plugins/dhcp/dhcp.codec';
import { buildDhcpConfig, DhcpSettingsSchema, type DhcpSettings } from '../../../src/plugins/dhcp/dhcp.config';
import { decideDhcp } from '../../../src/plugins/dhcp/dhcp.decider';
import { DHCP_CONSUMED_TYPES, DhcpEventType } from '../../../src/plugins/dhcp/dhcp.events';
import { DECLINE_HOLD_MS, DhcpView, OFFER_HOLD_MS, type DhcpClient, type DhcpEvent } from '../../../src/plugins/dhcp/dhcp.view';
import { discoverPacket, viaCodec } from '../../support/dhcp-packets';

const T0 = Date.parse('2025-03-01T08:00:00.000Z');
const A = 'dc:a6:32:00:00:0a';
const B = 'dc:a6:32:00:00:0b';
const C = 'dc:a6:32:00:00:0c';

let position = 0;
function event(type: string, data: Record<string, unknown>, at = T0): RecordedEvent {
  position++;
  return {
    id: `event-${position}`,
    stream: type.startsWith('Dhcp') ? 'plugin-dhcp-leases' : `client-${String(data.mac)}`,
    revision: 0,
    position,
    type,
    data,
    metadata: {
      actor: 'plugin:dhcp',
      correlationId: `c-${position}`,
      causationId: null,
      timestamp: new Date(at).toISOString(),
      schemaVersion: 1,
    },
  };
}

const leaseBound = (mac: string, ip: string, at = T0, leaseSeconds = 3600): RecordedEvent =>
  event(DhcpEventType.DhcpLeaseBound, { mac, ip, leaseSeconds }, at);
const leaseReleased = (mac: string, ip: string, reason = 'release'): RecordedEvent =>
  event(DhcpEventType.DhcpLeaseReleased, { mac, ip, reason });
const addressDeclined = (mac: string, ip: string, at = T0): RecordedEvent => event(DhcpEventType.DhcpAddressDeclined, { mac, ip }, at);

function viewOf(...events: RecordedEvent[]): DhcpView {
  const view = new DhcpView();
  for (const e of events) view.apply(e as DhcpEvent);
  return view;
}

/** bindings and owners are inverse maps: same size, each entry points back at the other. */
function assertInverse(view: DhcpView): void {
  assert.equal(view.owners.size, view.bindings.size, 'owners and bindings have the same size');
  for (const [mac, b] of view.bindings) {
    assert.equal(b.mac, mac);
    assert.equal(view.owners.get(b.ip), mac, `owners[${b.ip}] is ${mac}`);
  }
  for (const [ip, mac] of view.owners) assert.equal(view.bindings.get(mac)?.ip, ip, `bindings[${mac}] is ${ip}`);
  for (const [ip, mac] of view.offeredTo) assert.equal(view.offers.get(mac)?.ip, ip, `offers[${mac}] is ${ip}`);
}

describe('DhcpView: what it consumes', () => {
  it('only its own lease events: clients come from ctx.views, so per-boot client events are never replayed here', () => {
    assert.deepEqual([...DHCP_CONSUMED_TYPES].sort(), ['DhcpAddressDeclined', 'DhcpLeaseBound', 'DhcpLeaseReleased']);
  });

  it('events of other types change nothing', () => {
    const view = viewOf(leaseBound(A, '10.0.0.100'));
    for (const type of ['ClientApproved', 'ClientRemoved', 'SettingsUpdated', 'RivalDhcpServerDetected', 'SomethingNew']) {
      view.apply(event(type, { mac: A, ip: '10.0.0.99' }) as DhcpEvent);
    }
    assert.deepEqual([...view.bindings.values()], [{ mac: A, ip: '10.0.0.100', expiresAt: T0 + 2 * 3600 * 1000 }]);
    assert.equal(view.declined.size, 0);
  });
});

describe('DhcpView: snapshot and restore', () => {
  it('a restored view equals the one built by replay (bindings, owners, declines)', () => {
    const events = [
      leaseBound(A, '10.0.0.100'),
      leaseBound(B, '10.0.0.101', T0 + 10),
      addressDeclined(C, '10.0.0.102', T0 + 20),
      leaseReleased(A, '10.0.0.100'),
    ];
    const replayed = viewOf(...events);
    const restored = new DhcpView();
    restored.restore(JSON.parse(JSON.stringify(replayed.snapshot())));
    assert.deepEqual([...restored.bindings], [...replayed.bindings]);
    assert.deepEqual([...restored.owners], [...replayed.owners]);
    assert.deepEqual([...restored.declined], [...replayed.declined]);
    assertInverse(restored);
  });

  for (const bad of [null, {}, { bindings: [{ mac: A }], declined: [] }, { bindings: [], declined: [['10.0.0.1', 'soon']] }]) {
    it(`restore refuses ${JSON.stringify(bad)} and leaves the view empty`, () => {
      const view = new DhcpView();
      assert.throws(() => view.restore(bad as never), /not a DHCP view snapshot/);
      assert.equal(view.bindings.size, 0);
      assert.equal(view.declined.size, 0);
    });
  }
});

describe('DhcpView: bindings from the lease events', () => {
  it('DhcpLeaseBound → a binding and its owner', () => {
    const view = viewOf(leaseBound(A, '10.0.0.100', T0, 3600));
    assert.deepEqual(view.bindings.get(A), { mac: A, ip: '10.0.0.100', expiresAt: T0 + 2 * 3600 * 1000 });
    assert.equal(view.owners.get('10.0.0.100'), A);
    assertInverse(view);
  });

  it('rebinding a client to a new address frees the old one', () => {
    const view = viewOf(leaseBound(A, '10.0.0.100'), leaseBound(A, '10.0.0.101', T0 + 1000));
    assert.equal(view.bindings.get(A)!.ip, '10.0.0.101');
    assert.equal(view.owners.has('10.0.0.100'), false);
    assert.equal(view.owners.get('10.0.0.101'), A);
    assertInverse(view);
  });

  it('binding an address another client held takes it from that client (one address, one owner)', () => {
    const view = viewOf(leaseBound(A, '10.0.0.100'), leaseBound(B, '10.0.0.101'), leaseBound(B, '10.0.0.100', T0 + 1000));
    assert.equal(view.bindings.has(A), false);
    assert.equal(view.bindings.get(B)!.ip, '10.0.0.100');
    assert.equal(view.owners.get('10.0.0.100'), B);
    assert.equal(view.owners.has('10.0.0.101'), false);
    assertInverse(view);
  });

  it('a long replay of binds, rebinds and releases keeps the maps inverse', () => {
    const view = new DhcpView();
    const macs = [A, B, C];
    for (let i = 0; i < 200; i++) {
      const mac = macs[(i * 7) % 3];
      const ip = `10.0.0.${100 + ((i * 5) % 4)}`;
      view.apply(
        (i % 5 === 4 ? leaseReleased(mac, ip) : i % 11 === 10 ? addressDeclined(mac, ip) : leaseBound(mac, ip, T0 + i)) as DhcpEvent,
      );
      assertInverse(view);
    }
  });

  it('DhcpLeaseReleased → the binding and the owner are gone', () => {
    const view = viewOf(leaseBound(A, '10.0.0.100'), leaseBound(B, '10.0.0.101'), leaseReleased(A, '10.0.0.100', 'reclaimed'));
    assert.equal(view.bindings.has(A), false);
    assert.equal(view.owners.has('10.0.0.100'), false);
    assert.equal(view.bindings.get(B)!.ip, '10.0.0.101');
    assertInverse(view);
  });

  it('a release of an address the client no longer holds leaves its current binding alone', () => {
    const view = viewOf(leaseBound(A, '10.0.0.100'), leaseBound(A, '10.0.0.101'), leaseReleased(A, '10.0.0.100'));
    assert.equal(view.bindings.get(A)!.ip, '10.0.0.101');
    assert.equal(view.owners.get('10.0.0.101'), A);
  });

  it('a release by a client that does not own the address leaves the owner alone', () => {
    const view = viewOf(leaseBound(A, '10.0.0.100'), leaseReleased(B, '10.0.0.100'));
    assert.equal(view.owners.get('10.0.0.100'), A);
    assert.equal(view.bindings.get(A)!.ip, '10.0.0.100');
  });

  it('DhcpAddressDeclined → the binding is gone and the address held for 10 minutes from the event', () => {
    const at = T0 + 5000;
    const view = viewOf(leaseBound(A, '10.0.0.100'), addressDeclined(A, '10.0.0.100', at));
    assert.equal(view.bindings.has(A), false);
    assert.equal(view.owners.has('10.0.0.100'), false);
    assert.equal(view.declined.get('10.0.0.100'), at + DECLINE_HOLD_MS);
    assert.equal(DECLINE_HOLD_MS, 600_000);
  });

  it("a binding replaces the client's outstanding offer", () => {
    const view = new DhcpView();
    view.offer(A, '10.0.0.105', T0 + OFFER_HOLD_MS);
    view.apply(leaseBound(A, '10.0.0.100') as DhcpEvent);
    assert.equal(view.offers.has(A), false);
    assert.equal(view.offeredTo.has('10.0.0.105'), false);
  });
});

describe('DhcpView: offers (runtime only)', () => {
  it('a new offer replaces the previous one of the same client', () => {
    const view = new DhcpView();
    view.offer(A, '10.0.0.100', T0 + 1);
    view.offer(A, '10.0.0.101', T0 + 2);
    assert.deepEqual(view.offers.get(A), { ip: '10.0.0.101', until: T0 + 2 });
    assert.equal(view.offeredTo.has('10.0.0.100'), false);
    assert.equal(view.offeredTo.get('10.0.0.101'), A);
    assertInverse(view);
  });

  it('clearOffer of a client whose address was since offered to another leaves the other offer alone', () => {
    const view = new DhcpView();
    view.offer(A, '10.0.0.100', T0 + 1);
    view.offer(B, '10.0.0.100', T0 + 2);
    view.clearOffer(A);
    assert.equal(view.offers.has(A), false);
    assert.equal(view.offeredTo.get('10.0.0.100'), B);
    view.clearOffer(C); // no offer: nothing happens
    assert.equal(view.offers.size, 1);
  });
});

describe('DhcpView: the restart rule (DhcpLeaseBound at t with lease L is held until t + 2L)', () => {
  const SERVER = '10.0.0.1';
  const cfg = buildDhcpConfig(
    effectivePluginSettings(DhcpSettingsSchema, {
      mode: 'full',
      rangeStart: '10.0.0.100',
      rangeEnd: '10.0.0.100',
      netmask: '255.255.255.0',
      leaseSeconds: 3600,
    }) as DhcpSettings,
    SERVER,
  );
  const NEWCOMER = 'dc:a6:32:00:00:99';

  function discover(mac: string): DhcpPacket {
    return viaCodec(discoverPacket(mac, { xid: 7 }));
  }

  /** After a restart: the view rebuilt from the stored events only. */
  function rebuilt(): DhcpView {
    const view = viewOf(leaseBound(A, '10.0.0.100', T0, 1800));
    view.clients = new Map<string, DhcpClient>([
      [A, { status: 'approved', ip: null }],
      [NEWCOMER, { status: 'approved', ip: null }],
    ]);
    return view;
  }

  it('expiresAt = t + 2L (one lease for the renewals the store does not hold, one for the lease itself)', () => {
    assert.equal(rebuilt().bindings.get(A)!.expiresAt, T0 + 2 * 1800 * 1000);
  });

  it('with the pool full, the address is not reclaimed at t + 2L, and is at t + 2L + 1 ms', () => {
    const held = decideDhcp(discover(NEWCOMER), { localPort: 67, now: T0 + 2 * 1800 * 1000 }, rebuilt(), cfg);
    assert.equal(held.reply, null);
    assert.equal(held.drop, 'pool-exhausted');
    const later = decideDhcp(discover(NEWCOMER), { localPort: 67, now: T0 + 2 * 1800 * 1000 + 1 }, rebuilt(), cfg);
    assert.equal(later.reply?.yiaddr, '10.0.0.100');
    assert.deepEqual(
      later.effects.filter((e) => e.kind === 'release'),
      [{ kind: 'release', mac: A, ip: '10.0.0.100', reason: 'reclaimed' }],
    );
  });

  it('past t + L (the lease time itself) the address is still held: the extra lease is what protects it', () => {
    const d = decideDhcp(discover(NEWCOMER), { localPort: 67, now: T0 + 1800 * 1000 + 60_000 }, rebuilt(), cfg);
    assert.equal(d.drop, 'pool-exhausted');
  });

  it('the owner itself gets its address back at any time, expired or not', () => {
    for (const now of [T0 + 1000, T0 + 10 * 3600 * 1000]) {
      const d = decideDhcp(discover(A), { localPort: 67, now }, rebuilt(), cfg);
      assert.equal(d.reply?.yiaddr, '10.0.0.100');
      assert.equal(
        d.effects.some((e) => e.kind === 'release'),
        false,
      );
    }
  });
});
