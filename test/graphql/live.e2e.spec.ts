/** Subscriptions over graphql-ws: the live audit feed and clientDetected. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DetectClientCommand } from '../../src/core/commands/client.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { ProjectionEngine } from '../../src/core/projections/projection-engine';
import { LiveEvents } from '../../src/graphql/live-events';
import { startHarness, subscribe, type Harness } from '../support/app-harness';

interface LiveEvent {
  id: string;
  stream: string;
  revision: number;
  position: number;
  type: string;
  data: Record<string, unknown>;
  metadata: { actor: string; correlationId: string; causationId: string | null; timestamp: string; schemaVersion: number };
}

const EVENT_FIELDS = 'id stream revision position type data metadata { actor correlationId causationId timestamp schemaVersion }';

describe('GraphQL API: subscriptions', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('a subscription whose only root field is skipped (@include(if: false)) is refused as invalid, not an internal error', async () => {
    const sub = subscribe(h.ws(), 'subscription { clientDetected @include(if: false) { mac } }');
    const result = await sub.next();
    assert.equal(result.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    await sub.done; // completed normally: the connection was not closed with 4500
  });

  it("events: the event a mutation appends arrives, with the token's actor in its metadata", async () => {
    await h.liveSubscribers(0);
    const sub = subscribe<{ events: LiveEvent }>(h.ws(), `subscription { events { ${EVENT_FIELDS} } }`);
    await h.liveSubscribers(1);
    const before = Date.now();
    const res = await h.gql('mutation { approveClient(mac: "dc:a6:32:10:00:01", name: "live-1") { mac } }');
    assert.equal(res.errors, undefined);
    const got = (await sub.next()).data!.events;
    assert.equal(got.type, 'ClientApproved');
    assert.equal(got.stream, 'client-dc:a6:32:10:00:01');
    assert.equal(got.revision, 0);
    assert.ok(got.position > 0);
    assert.deepEqual(got.data, { mac: 'dc:a6:32:10:00:01', name: 'live-1', imageId: null, preRegistered: true });
    assert.equal(got.metadata.actor, 'admin:admin');
    assert.equal(got.metadata.schemaVersion, 1);
    assert.equal(got.metadata.causationId, null);
    assert.ok(Date.parse(got.metadata.timestamp) >= before - 1000);
    // It is the same event the audit log has.
    const audit = await h.ok<{ events: { events: LiveEvent[] } }>(
      `{ events(after: ${got.position - 1}, first: 1) { events { ${EVENT_FIELDS} } } }`,
    );
    assert.deepEqual(audit.events.events[0], got);
    sub.unsubscribe();
    await sub.done;
  });

  it('events: types and streamPrefix filter the feed', async () => {
    await h.liveSubscribers(0);
    const byType = subscribe<{ events: LiveEvent }>(h.ws(), 'subscription { events(types: ["ClientRenamed"]) { type stream } }');
    const byStream = subscribe<{ events: LiveEvent }>(h.ws(), 'subscription { events(streamPrefix: "group-") { type stream } }');
    await h.liveSubscribers(2);
    await h.ok('mutation { approveClient(mac: "dc:a6:32:10:00:02") { mac } }');
    await h.ok('mutation { renameClient(mac: "dc:a6:32:10:00:02", name: "renamed") { mac } }');
    await h.ok('mutation { createGroup(name: "live") { name } }');
    assert.deepEqual((await byType.next()).data!.events, { type: 'ClientRenamed', stream: 'client-dc:a6:32:10:00:02' });
    assert.deepEqual((await byStream.next()).data!.events, { type: 'GroupCreated', stream: 'group-live' });
    // Nothing else came through either filter.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(byType.results.length, 1);
    assert.equal(byStream.results.length, 1);
    byType.unsubscribe();
    byStream.unsubscribe();
  });

  it('events: secrets are redacted in the live feed too', async () => {
    await h.liveSubscribers(0);
    const sub = subscribe<{ events: LiveEvent }>(
      h.ws(),
      'subscription { events(types: ["UserCreated", "UserPasswordChanged"]) { type data } }',
    );
    await h.liveSubscribers(1);
    await h.ok('mutation { createUser(input: { username: "liv", password: "Live-Secret-1" }) { username } }');
    const got = (await sub.next()).data!.events;
    assert.equal(got.type, 'UserCreated');
    assert.equal(got.data.passwordHash, '[redacted]');
    assert.equal(/\$2[aby]\$/.test(JSON.stringify(sub.results)), false);
    sub.unsubscribe();
  });

  it('clientDetected: a Pi detected by a plugin (DetectClientCommand) arrives as the client, pending', async () => {
    await h.liveSubscribers(0);
    const sub = subscribe<{ clientDetected: Record<string, unknown> }>(
      h.ws(),
      'subscription { clientDetected { mac status serial model ip detectedAt name } }',
    );
    await h.liveSubscribers(1);
    // A known client seen again is not a new detection: only the new one arrives.
    await h.bus.execute(new DetectClientCommand({ mac: 'dc:a6:32:10:00:01', via: 'dhcp', bootId: 'b1' }, commandMeta('plugin:dhcp')));
    await h.bus.execute(
      new DetectClientCommand(
        { mac: 'E4:5F:01:AA:BB:CC', serial: '1a2b3c4d', model: 'RPi4', ip: '10.0.0.42', via: 'dhcp', bootId: 'b2' },
        commandMeta('plugin:dhcp'),
      ),
    );
    const got = (await sub.next()).data!.clientDetected;
    assert.equal(got.mac, 'e4:5f:01:aa:bb:cc');
    assert.equal(got.status, 'PENDING');
    assert.equal(got.serial, '1a2b3c4d');
    assert.equal(got.model, 'RPi4');
    assert.equal(got.ip, '10.0.0.42');
    assert.equal(got.name, null);
    assert.ok(got.detectedAt);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sub.results.length, 1);
    sub.unsubscribe();
  });

  it('a subscriber that leaves stops listening to the live feed', async () => {
    const live = h.app.nest.get(LiveEvents);
    const engine = h.app.nest.get(ProjectionEngine);
    await new Promise((r) => setTimeout(r, 50));
    await h.liveSubscribers(0);
    const baseline = live.subscribers;
    const engineObservers = engine.live$.observers.length;
    const client = h.ws();
    const sub = subscribe(client, 'subscription { events { type } }');
    await h.liveSubscribers(baseline + 1);
    sub.unsubscribe();
    const deadline = Date.now() + 2000;
    while (live.subscribers > baseline && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(live.subscribers, baseline);
    // Also when the socket just goes away.
    const client2 = h.ws();
    subscribe(client2, 'subscription { events { type } }');
    await h.liveSubscribers(baseline + 1);
    await client2.dispose();
    const deadline2 = Date.now() + 2000;
    while (live.subscribers > baseline && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 10));
    assert.equal(live.subscribers, baseline);
    // The shared redacted feed lets go of the engine once its last subscriber left.
    assert.ok(engine.live$.observers.length <= engineObservers);
  });
});
