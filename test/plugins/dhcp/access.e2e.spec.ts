/**
 * Whom bramble answers, with real clients (busybox udhcpc sending the Pi's PXE fingerprint): a
 * never-seen Pi is recorded once (however often it retries) and left unanswered, like a pending
 * or rejected Pi and any machine that is not a Pi; approving a Pi over the GraphQL API makes its
 * next DISCOVER answered, with nothing restarted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Metrics } from '../../../src/core/observability/metrics';
import { LiveEvents } from '../../../src/graphql/live-events';
import { connected, subscribe } from '../../support/app-harness';
import { TEST_TOKEN } from '../../support/core-app';
import { DNSMASQ_RPI_OPTION43_HEX, dhcpLabUnavailable, startDhcpLab, type DhcpLab, type DhcpTap } from '../../support/dhcp-lab';
import { eventually } from '../../support/temp';

const skip = dhcpLabUnavailable();

/** A Pi 400 by option 97 (board type 0x13) behind an OUI shared by several models. */
const NEW_PI = 'dc:a6:32:00:02:01';
const NEW_PI_SERIAL = 0x00c0ffee;
const PI400_REVISION = 0x00c03130;
const REJECTED_PI = 'e4:5f:01:00:02:02';
/** Not a Pi (a locally administered MAC), sending the Pi's PXE fingerprint all the same. */
const LAPTOP = '02:11:22:33:44:55';

describe('DHCP: who gets answered', { skip: skip ?? false }, () => {
  let lab: DhcpLab;
  let tap: DhcpTap;

  before(async () => {
    lab = await startDhcpLab({ settings: { mode: 'proxy', pi3ReplyDelayMs: 0 } });
    await lab.addClient('newpi', NEW_PI);
    await lab.addClient('badpi', REJECTED_PI);
    await lab.addClient('laptop', LAPTOP);
    await lab.addClient('tap', '02:00:00:00:0f:01', { cidr: `${lab.ip(250)}/24` });
    tap = await lab.startTap('tap');
  });
  after(async () => {
    await lab?.close();
  });

  const repliesTo = (mac: string): number => tap.packets.filter((p) => p.port === 68 && p.packet.mac === mac).length;
  const detections = async (mac: string) =>
    (await lab.stream(`client-${mac}`)).filter((e) => e.type === 'ClientDetected' || e.type === 'ClientRedetected');
  const asPi = (mac: string, serial?: number, revision?: number) => ({ pi: { mac, serial, revision }, tries: 1, timeoutSec: 1 });

  it('records a never-seen Pi once (serial and model from option 97) however often it retries, lists it as PENDING, answers nothing', async () => {
    // An admin watching the clientDetected subscription over graphql-ws sees the Pi once.
    const ws = createClient({
      url: (await lab.baseUrl()).replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { Authorization: `Bearer ${TEST_TOKEN}` },
    });
    const seen = subscribe<{ clientDetected: { mac: string; serial: string; model: string; status: string } }>(
      ws,
      'subscription { clientDetected { mac serial model status } }',
    );
    await connected(ws);
    await eventually(() => lab.core.app.nest.get(LiveEvents).subscribers === 1, 5000, 'the subscription is live');

    // Ten DISCOVER runs: two waves of five at once (also racing each other), one after the other.
    for (let wave = 0; wave < 2; wave++) {
      const runs = await Promise.all(Array.from({ length: 5 }, () => lab.udhcpc('newpi', asPi(NEW_PI, NEW_PI_SERIAL, PI400_REVISION))));
      for (const events of runs) assert.equal(events.bound, undefined, 'no answer for a Pi nobody approved');
    }
    const discovers = tap.packets.filter((p) => p.port === 67 && p.packet.mac === NEW_PI).length;
    assert.ok(discovers >= 10, `the tap saw ${discovers} DISCOVERs`);
    assert.equal(repliesTo(NEW_PI), 0);

    await eventually(async () => (await detections(NEW_PI)).length > 0, 3000, 'the detection');
    const recorded = await detections(NEW_PI);
    assert.equal(recorded.length, 1, `one detection event, not ${recorded.map((e) => e.type).join(', ')}`);
    assert.equal(recorded[0].type, 'ClientDetected');
    assert.equal(recorded[0].metadata.actor, 'plugin:dhcp');
    assert.deepEqual(
      {
        serial: (recorded[0].data as { serial: string }).serial,
        model: (recorded[0].data as { model: string }).model,
        via: (recorded[0].data as { via: string }).via,
      },
      { serial: '00c0ffee', model: 'RPi400', via: 'dhcp' },
    );

    const res = await lab.graphql<{ clients: { mac: string; status: string; serial: string; model: string }[] }>(
      'query { clients(status: PENDING) { mac status serial model } }',
    );
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    assert.deepEqual(
      res.data!.clients.find((c) => c.mac === NEW_PI),
      { mac: NEW_PI, status: 'PENDING', serial: '00c0ffee', model: 'RPi400' },
    );

    const first = await seen.next(3000);
    assert.deepEqual(first.data?.clientDetected, { mac: NEW_PI, serial: '00c0ffee', model: 'RPi400', status: 'PENDING' });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen.results.length, 1, 'one clientDetected, however often the Pi retried');
    await ws.dispose();
  });

  it('answers nothing to a machine that is not a Pi, a pending Pi, or a rejected Pi', async () => {
    // The rejected Pi: seen once, then rejected by the admin.
    await lab.udhcpc('badpi', asPi(REJECTED_PI, 0x0badbad0));
    await eventually(async () => (await detections(REJECTED_PI)).length > 0, 3000, 'the detection of the Pi to reject');
    const rejected = await lab.graphql<{ rejectClient: { status: string } }>(
      'mutation($mac: String!) { rejectClient(mac: $mac) { status } }',
      { mac: REJECTED_PI },
    );
    assert.equal(rejected.data?.rejectClient.status, 'REJECTED', JSON.stringify(rejected.errors));

    const [laptop, pending, refused] = await Promise.all([
      // An ordinary laptop (no PXE option 60): a PXE ROM from a non-Pi MAC is a lab PC (pc-clients.e2e.spec.ts).
      lab.udhcpc('laptop', { tries: 1, timeoutSec: 1 }),
      lab.udhcpc('newpi', asPi(NEW_PI, NEW_PI_SERIAL, PI400_REVISION)),
      lab.udhcpc('badpi', asPi(REJECTED_PI, 0x0badbad0)),
    ]);
    for (const [who, events] of [
      ['non-Pi', laptop],
      ['pending Pi', pending],
      ['rejected Pi', refused],
    ] as const) {
      assert.equal(events.bound, undefined, `${who}: no lease`);
    }
    await new Promise((r) => setTimeout(r, 200));
    for (const mac of [LAPTOP, NEW_PI, REJECTED_PI]) assert.equal(repliesTo(mac), 0, `nothing was sent to ${mac}`);
    assert.equal((await lab.stream(`client-${LAPTOP}`)).length, 0, 'a non-Pi is not recorded');

    const dropped = (await lab.core.app.nest.get(Metrics).registry.getSingleMetric('bramble_dhcp_packets_dropped_total')!.get()).values;
    const count = (reason: string) => dropped.find((v) => v.labels.reason === reason)?.value ?? 0;
    assert.ok(count('not-a-pi') >= 1, 'not-a-pi drops counted');
    assert.ok(count('pending') >= 1, 'pending drops counted');
    assert.ok(count('rejected') >= 1, 'rejected drops counted');
  });

  it('approving the pending Pi over GraphQL (HTTP, admin token) makes its next DISCOVER answered, without a restart', async () => {
    const res = await lab.graphql<{ approveClient: { mac: string; status: string } }>(
      'mutation($mac: String!) { approveClient(mac: $mac) { mac status } }',
      { mac: NEW_PI.toUpperCase() },
    );
    assert.deepEqual(res.data?.approveClient, { mac: NEW_PI, status: 'APPROVED' }, JSON.stringify(res.errors));
    const events = await lab.udhcpc('newpi', { ...asPi(NEW_PI, NEW_PI_SERIAL, PI400_REVISION), tries: 2 });
    assert.ok(events.bound, `answered after approval (events: ${Object.keys(events).join(', ')})`);
    assert.equal(events.bound.serverid, lab.serverIp);
    assert.equal(events.bound.opt43, DNSMASQ_RPI_OPTION43_HEX);
    assert.ok(repliesTo(NEW_PI) >= 2, 'OFFER and ACK went out');
    assert.equal((await detections(NEW_PI)).filter((e) => e.type === 'ClientDetected').length, 1, 'still one ClientDetected');
  });
});
