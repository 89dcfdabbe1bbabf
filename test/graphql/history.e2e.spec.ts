/** The past and the log: stateAt, rebuildProjections, the audit `events` query and its NDJSON export. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DetectClientCommand } from '../../src/core/commands/client.commands';
import { commandMeta } from '../../src/core/commands/meta';
import { EVENT_STORE, type EventStore } from '../../src/core/event-store/event-store.port';
import { startHarness, type Harness } from '../support/app-harness';

interface Page {
  events: Array<{
    id: string;
    stream: string;
    position: number;
    type: string;
    data: Record<string, unknown>;
    metadata: { actor: string; timestamp: string };
  }>;
  endCursor: number | null;
  hasNextPage: boolean;
}

const PAGE = 'events { id stream position type data metadata { actor timestamp } } endCursor hasNextPage';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('GraphQL API: stateAt, rebuildProjections, audit log', () => {
  let h: Harness;
  let pendingAt: number;
  let betweenTime: string;
  before(async () => {
    h = await startHarness();
    await h.bus.execute(new DetectClientCommand({ mac: 'dc:a6:32:20:00:01', via: 'dhcp', model: 'RPi4' }, commandMeta('plugin:dhcp')));
    const detected = await h.ok<{ events: Page }>('{ events(filter: { types: ["ClientDetected"] }) { events { position } } }');
    pendingAt = detected.events.events[0].position;
    await sleep(20);
    betweenTime = new Date().toISOString();
    await sleep(20);
    await h.ok('mutation { approveClient(mac: "dc:a6:32:20:00:01", name: "hist-1") { mac } }');
    await h.ok('mutation { createUser(input: { username: "hal", password: "Hal-Secret-9000", groups: ["teachers"] }) { username } }');
  });
  after(() => h.close());

  it('stateAt(position): the client was pending then, approved now', async () => {
    const res = await h.ok(
      `{ stateAt(position: ${pendingAt}) { position events clients { mac status name model } users { username } groups { name } images { id } settings { interface serverIp } } now: client(mac: "dc:a6:32:20:00:01") { status name } }`,
    );
    assert.equal(res.stateAt.position, pendingAt);
    const upTo = await h.ok<{ events: Page }>(`{ events(first: 1000) { events { position } } }`);
    assert.equal(res.stateAt.events, upTo.events.events.filter((e) => e.position <= pendingAt).length);
    assert.deepEqual(res.stateAt.clients, [{ mac: 'dc:a6:32:20:00:01', status: 'PENDING', name: null, model: 'RPi4' }]);
    assert.deepEqual(res.stateAt.users, []);
    assert.deepEqual(
      res.stateAt.groups.map((g: { name: string }) => g.name),
      ['pupils', 'teachers'],
    );
    assert.deepEqual(res.stateAt.images, []);
    assert.deepEqual(res.stateAt.settings, { interface: null, serverIp: null });
    assert.deepEqual(res.now, { status: 'APPROVED', name: 'hist-1' });
  });

  it('stateAt(time): the same past, found by time; and the present by a later time', async () => {
    const past = await h.ok('query ($t: String!) { stateAt(time: $t) { position clients { mac status } users { username } } }', {
      t: betweenTime,
    });
    assert.equal(past.stateAt.position, pendingAt);
    assert.deepEqual(past.stateAt.clients, [{ mac: 'dc:a6:32:20:00:01', status: 'PENDING' }]);
    assert.deepEqual(past.stateAt.users, []);
    const later = await h.ok('query ($t: String!) { stateAt(time: $t) { clients { status } users { username groups } } }', {
      t: new Date(Date.now() + 60_000).toISOString(),
    });
    assert.deepEqual(later.stateAt.clients, [{ status: 'APPROVED' }]);
    assert.deepEqual(later.stateAt.users, [{ username: 'hal', groups: ['teachers'] }]);
  });

  it('stateAt wants exactly one of position and time, each well-formed (VALIDATION with field)', async () => {
    for (const [query, field] of [
      ['{ stateAt { position } }', 'position'],
      [`{ stateAt(position: 1, time: "${betweenTime}") { position } }`, 'position'],
      ['{ stateAt(position: -1) { position } }', 'position'],
      ['{ stateAt(time: "last tuesday") { position } }', 'time'],
    ] as const) {
      const res = await h.gql(query);
      assert.equal(res.errors?.[0]?.extensions?.code, 'VALIDATION', query);
      assert.equal(res.errors?.[0]?.extensions?.field, field, query);
    }
  });

  it('rebuildProjections replays every event and leaves the same read models', async () => {
    const snapshot =
      '{ clients { mac status name model detectedAt approvedAt updatedAt } users { username uidNumber gidNumber groups enabled createdAt } groups { name gidNumber members } images { id } settings { interface serverIp } }';
    const before = await h.ok(snapshot);
    const log = await h.ok<{ events: Page }>('{ events(first: 1000) { events { position } hasNextPage } }');
    assert.equal(log.events.hasNextPage, false);
    const rebuilt = await h.ok('mutation { rebuildProjections { events ms } }');
    assert.equal(rebuilt.rebuildProjections.events, log.events.events.length);
    assert.ok(rebuilt.rebuildProjections.ms >= 0);
    assert.deepEqual(await h.ok(snapshot), before);
    // And the API keeps working on the new read models.
    const renamed = await h.ok('mutation { renameClient(mac: "dc:a6:32:20:00:01", name: "hist-2") { name } }');
    assert.equal(renamed.renameClient.name, 'hist-2');
  });

  it('events: pages oldest first through endCursor until hasNextPage is false', async () => {
    const all = await h.ok<{ events: Page }>(`{ events(first: 1000) { ${PAGE} } }`);
    assert.equal(all.events.hasNextPage, false);
    const positions = all.events.events.map((e) => e.position);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
    );
    const seen: number[] = [];
    let after: number | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: { events: Page } = await h.ok(`query ($after: Float) { events(first: 3, after: $after) { ${PAGE} } }`, { after });
      seen.push(...page.events.events.map((e) => e.position));
      assert.ok(page.events.events.length <= 3);
      if (!page.events.hasNextPage) break;
      after = page.events.endCursor;
    }
    assert.deepEqual(seen, positions);
    const empty = await h.ok<{ events: Page }>(`{ events(after: ${positions[positions.length - 1]}) { ${PAGE} } }`);
    assert.deepEqual(empty.events, { events: [], endCursor: null, hasNextPage: false });
  });

  it('events: filters by types, stream prefix, actor and time', async () => {
    const byType = await h.ok<{ events: Page }>(`{ events(filter: { types: ["ClientApproved", "UserCreated"] }) { ${PAGE} } }`);
    assert.deepEqual(
      byType.events.events.map((e) => e.type),
      ['ClientApproved', 'UserCreated'],
    );
    assert.equal(byType.events.events[1].data.passwordHash, '[redacted]');
    const byStream = await h.ok<{ events: Page }>(`{ events(filter: { streamPrefix: "client-" }) { ${PAGE} } }`);
    assert.ok(byStream.events.events.length >= 3);
    assert.ok(byStream.events.events.every((e) => e.stream.startsWith('client-')));
    const byActor = await h.ok<{ events: Page }>(`{ events(filter: { actor: "plugin:dhcp" }) { ${PAGE} } }`);
    assert.deepEqual(
      byActor.events.events.map((e) => e.type),
      ['ClientDetected'],
    );
    const since = await h.ok<{ events: Page }>(
      `query ($t: String!) { events(filter: { since: $t, streamPrefixes: ["client-", "user-"] }) { ${PAGE} } }`,
      { t: betweenTime },
    );
    assert.equal(
      since.events.events.some((e) => e.type === 'ClientDetected'),
      false,
    );
    assert.ok(since.events.events.some((e) => e.type === 'ClientApproved'));
    const until = await h.ok<{ events: Page }>(
      `query ($t: String!) { events(filter: { until: $t, streamPrefix: "client-" }) { ${PAGE} } }`,
      { t: betweenTime },
    );
    assert.deepEqual(
      until.events.events.map((e) => e.type),
      ['ClientDetected'],
    );
  });

  it('GET /audit/export.ndjson needs the token and gives one redacted JSON event per line', async () => {
    const anonymous = await fetch(`${h.url}/audit/export.ndjson`);
    assert.equal(anonymous.status, 401);
    const wrong = await fetch(`${h.url}/audit/export.ndjson`, { headers: { authorization: 'Bearer wrong-token-0123456789' } });
    assert.equal(wrong.status, 401);
    const res = await fetch(`${h.url}/audit/export.ndjson`, { headers: { authorization: `Bearer ${h.token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /ndjson/);
    const text = await res.text();
    assert.ok(text.endsWith('\n'));
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Page['events'][number]);
    const all = await h.ok<{ events: Page }>('{ events(first: 1000) { events { id position } } }');
    assert.deepEqual(
      lines.map((l) => l.id),
      all.events.events.map((e) => e.id),
    );
    const user = lines.find((l) => l.type === 'UserCreated')!;
    assert.equal(user.data.passwordHash, '[redacted]');
    assert.equal(text.includes('Hal-Secret-9000'), false);
    assert.equal(/\$2[aby]\$/.test(text), false);
    assert.equal(lines.find((l) => l.type === 'ApiTokenIssued')?.data.sha256, '[redacted]');
    const filtered = await fetch(`${h.url}/audit/export.ndjson?types=ClientDetected`, { headers: { authorization: `Bearer ${h.token}` } });
    assert.deepEqual(
      (await filtered.text())
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { type: string }).type),
      ['ClientDetected'],
    );
  });
  it('events: `first` is capped at 1000, must be positive, and times must be ISO-8601', async () => {
    // 1001 more events in one append (the audit log reads the store, not the read models).
    const meta = { ...commandMeta('plugin:test'), schemaVersion: 1 };
    const facts = Array.from({ length: 1001 }, () => ({
      type: 'BootProgressed',
      data: { mac: 'b8:27:eb:30:00:01', stage: 'dhcp.discover', plugin: 'test', ip: null, detail: {} },
      metadata: meta,
    }));
    await h.app.nest.get<EventStore>(EVENT_STORE).append('boot-b8:27:eb:30:00:01', facts, 'any');
    const capped = await h.ok<{ events: Page }>('{ events(first: 5000) { events { position } endCursor hasNextPage } }');
    assert.equal(capped.events.events.length, 1000);
    assert.equal(capped.events.hasNextPage, true);
    const rest = await h.ok<{ events: Page }>(
      `{ events(first: 5000, after: ${capped.events.endCursor}) { events { position } hasNextPage } }`,
    );
    assert.ok(rest.events.events.length > 1);
    assert.equal(rest.events.hasNextPage, false);
    const zero = await h.gql('{ events(first: 0) { hasNextPage } }');
    assert.equal(zero.errors?.[0]?.extensions?.field, 'first');
    const badTime = await h.gql('{ events(filter: { since: "yesterday" }) { hasNextPage } }');
    assert.equal(badTime.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(badTime.errors?.[0]?.extensions?.field, 'since');
  });
});
