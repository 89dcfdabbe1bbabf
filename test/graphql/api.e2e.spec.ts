/**
 * The GraphQL API end to end, over real HTTP and WebSocket: authentication, the public `health`
 * operation, request-level errors (depth limit, validation, subscriptions over HTTP).
 * Domain operations are in graphql-clients / graphql-users / graphql-live / graphql-history.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startHarness, subscribe, type Harness } from '../support/app-harness';

const WRONG_TOKEN = 'not-the-token-0123456789abcdef';

describe('GraphQL API: authentication', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('the token is the one written to <data>/admin-token on first start, mode 0600', async () => {
    const file = path.join(h.dataDir, 'admin-token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(h.token.length >= 32);
    const res = await h.gql('{ settings { interface serverIp } }');
    assert.equal(res.status, 200);
    assert.deepEqual(res.data?.settings, { interface: null, serverIp: null });
  });

  it('health needs no token', async () => {
    const res = await h.gql(
      '{ health { status eventStore { status headPosition } projections { caughtUp lag } plugins uptimeSeconds } }',
      {},
      null,
    );
    assert.equal(res.status, 200);
    assert.equal(res.errors, undefined);
    assert.equal(res.data?.health.status, 'ok');
    assert.equal(res.data?.health.eventStore.status, 'up');
    assert.ok(res.data?.health.eventStore.headPosition > 0);
    assert.equal(res.data?.health.projections.caughtUp, true);
    assert.deepEqual(res.data?.health.plugins, {});
  });

  it('health over GraphQL is the report of GET /health, process managers included', async () => {
    const res = await h.gql('{ health { status processManagers { membership { status detail position } } } }', {}, null);
    assert.equal(res.errors, undefined);
    const rest = (await (await fetch(`${h.url}/health`)).json()) as { status: string; processManagers: unknown };
    assert.equal(res.data?.health.status, rest.status);
    assert.deepEqual(res.data?.health.processManagers, {
      membership: { detail: null, ...(rest.processManagers as { membership: object }).membership },
    });
    assert.equal(res.data?.health.processManagers.membership.status, 'up');
  });

  const protectedOperations: Array<[string, string]> = [
    ['a query', '{ clients { mac } }'],
    ['a mutation', 'mutation { approveClient(mac: "dc:a6:32:00:00:01") { mac } }'],
    ['the audit log', '{ events { events { type } } }'],
    ['introspection', '{ __schema { queryType { name } } }'],
    ['health together with another field', '{ health { status } users { username } }'],
    ['a fragment spread on the root', 'query { ...F } fragment F on Query { users { username } }'],
  ];

  for (const [what, query] of protectedOperations) {
    it(`refuses ${what} without a token: UNAUTHENTICATED, HTTP 401, no data`, async () => {
      for (const token of [null, WRONG_TOKEN]) {
        const res = await h.gql(query, {}, token);
        assert.equal(res.status, 401, `token ${token}`);
        assert.equal(res.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
        assert.equal('data' in JSON.parse(res.text), false, 'no data key at all');
      }
    });
  }

  it('the refused mutation did not happen', async () => {
    const res = await h.gql('{ client(mac: "dc:a6:32:00:00:01") { mac } }');
    assert.equal(res.data?.client, null);
  });

  it('accepts the token with any case of "Bearer"', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `bearer ${h.token}` },
      body: JSON.stringify({ query: '{ groups { name } }' }),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { data: { groups: { name: string }[] } };
    assert.deepEqual(
      body.data.groups.map((g) => g.name),
      ['pupils', 'teachers'],
    );
  });

  it('WebSocket without a token is closed with 4401 UNAUTHENTICATED', async () => {
    const sub = subscribe(h.ws(null), 'subscription { events { type } }');
    await assert.rejects(sub.done, (e: { code?: number; reason?: string }) => {
      assert.equal(e.code, 4401);
      assert.match(e.reason ?? '', /UNAUTHENTICATED/);
      return true;
    });
  });

  it('WebSocket with a wrong token is closed with 4401 UNAUTHENTICATED', async () => {
    const sub = subscribe(h.ws(WRONG_TOKEN), 'subscription { events { type } }');
    await assert.rejects(sub.done, (e: { code?: number }) => e.code === 4401);
  });

  it('WebSocket accepts Authorization, authorization or a bare token in connectionParams', async () => {
    for (const params of [{ Authorization: `Bearer ${h.token}` }, { authorization: `Bearer ${h.token}` }, { token: h.token }]) {
      const client = h.ws(null, params);
      const res = subscribe(client, '{ groups { name } }');
      const first = await res.next();
      assert.deepEqual(
        (first.data as { groups: { name: string }[] }).groups.map((g) => g.name),
        ['pupils', 'teachers'],
        JSON.stringify(params),
      );
      await res.done;
      await client.dispose();
    }
  });
});

describe('GraphQL API: request errors', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('a query deeper than 8 levels is refused with DEPTH_LIMIT before anything runs', async () => {
    // clients > image > clients > image ... : 9 levels.
    const deep = '{ clients { image { clients { image { clients { image { clients { image { id } } } } } } } } }';
    const res = await h.gql(deep);
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, 'DEPTH_LIMIT');
    assert.match(res.errors?.[0]?.message ?? '', /9 levels deep; the limit is 8/);
    assert.equal(res.data, undefined);
    // 8 levels is fine.
    const ok = await h.gql('{ clients { image { clients { image { clients { image { clients { mac } } } } } } } }');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.data, { clients: [] });
  });

  it('fragments count toward the depth; introspection does not', async () => {
    const viaFragments = await h.gql(`
      { clients { ...A } }
      fragment A on Client { image { clients { ...B } } }
      fragment B on Client { image { clients { image { clients { image { id } } } } } }`);
    assert.equal(viaFragments.errors?.[0]?.extensions?.code, 'DEPTH_LIMIT');
    const introspection = await h.gql(
      '{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }',
    );
    assert.equal(introspection.status, 200);
    assert.ok(Array.isArray(introspection.data?.__schema.types));
  });

  it('the depth limit also applies over WebSocket', async () => {
    const sub = subscribe(
      h.ws(),
      'subscription { clientDetected { image { clients { image { clients { image { clients { image { clients { mac } } } } } } } } } }',
    );
    await assert.rejects(sub.done, (errors: Array<{ extensions?: { code?: string } }>) => {
      assert.equal(errors[0]?.extensions?.code, 'DEPTH_LIMIT');
      return true;
    });
  });

  it("unknown fields and syntax errors keep GraphQL's codes", async () => {
    const unknown = await h.gql('{ clientz { mac } }');
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    const syntax = await h.gql('{ clients { mac ');
    assert.equal(syntax.errors?.[0]?.extensions?.code, 'GRAPHQL_PARSE_FAILED');
  });

  it('a bad enum value or a missing argument is a validation error, not INTERNAL', async () => {
    const badEnum = await h.gql('{ clients(status: MAYBE) { mac } }');
    assert.equal(badEnum.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    const badVariable = await h.gql('query ($s: ClientStatus) { clients(status: $s) { mac } }', { s: 'MAYBE' });
    assert.equal(badVariable.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
  });

  it('a subscription sent over HTTP is refused with BAD_REQUEST naming the WebSocket', async () => {
    const res = await h.gql('subscription { events { type } }');
    assert.equal(res.status, 400);
    assert.equal(res.errors?.[0]?.extensions?.code, 'BAD_REQUEST');
    assert.match(res.errors?.[0]?.message ?? '', /WebSocket/);
  });

  it('no stack traces or internals in error responses', async () => {
    const res = await h.gql('mutation { renameClient(mac: "dc:a6:32:00:00:09", name: "x") { mac } }');
    assert.equal(res.errors?.[0]?.extensions?.code, 'CLIENT_NOT_FOUND');
    assert.deepEqual(Object.keys(res.errors?.[0]?.extensions ?? {}).sort(), ['code', 'field']);
    assert.equal(res.text.includes('stacktrace'), false);
    assert.equal(res.text.includes('node_modules'), false);
  });

  it('the schema has every operation of the API, by name', async () => {
    const res = await h.ok<{ __schema: Record<string, { fields: { name: string }[] }> }>(
      '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }',
    );
    const names = (t: string) => res.__schema[t].fields.map((f) => f.name);
    const has = (t: string, expected: string[]) => {
      const missing = expected.filter((n) => !names(t).includes(n));
      assert.deepEqual(missing, [], `${t} lacks ${missing.join(', ')}`);
    };
    has('queryType', ['clients', 'client', 'users', 'user', 'groups', 'images', 'image', 'settings', 'events', 'stateAt', 'health']);
    has('mutationType', [
      'approveClient',
      'rejectClient',
      'removeClient',
      'renameClient',
      'assignImage',
      'setClientBootConfig',
      'importClients',
      'createUser',
      'importUsers',
      'setUserPassword',
      'setUserGroups',
      'disableUser',
      'enableUser',
      'deleteUser',
      'createGroup',
      'deleteGroup',
      'registerImage',
      'renameImage',
      'deleteImage',
      'updateSettings',
      'rebuildProjections',
    ]);
    has('subscriptionType', ['events', 'clientDetected']);
  });

  it('the landing page / playground is off: GET /graphql is not an HTML page', async () => {
    const res = await fetch(`${h.url}/graphql`, { headers: { accept: 'text/html' } });
    const text = await res.text();
    assert.equal(/<html/i.test(text), false);
  });
});

describe('GraphQL API: BRAMBLE_ADMIN_TOKEN', () => {
  const adminToken = 'env-admin-token-0123456789abcdef';
  let h: Harness;
  before(async () => {
    h = await startHarness({ adminToken });
  });
  after(() => h.close());

  it('the environment token works, no token file is written, and the actor is admin:env', async () => {
    assert.throws(() => statSync(path.join(h.dataDir, 'admin-token')), /ENOENT/);
    const res = await h.gql('mutation { approveClient(mac: "dc:a6:32:00:00:02") { mac status } }');
    assert.equal(res.data?.approveClient.status, 'APPROVED');
    const events = await h.ok<{ events: { events: { metadata: { actor: string } }[] } }>(
      '{ events(filter: { types: ["ClientApproved"] }) { events { metadata { actor } } } }',
    );
    assert.deepEqual(
      events.events.events.map((e) => e.metadata.actor),
      ['admin:env'],
    );
  });
});
