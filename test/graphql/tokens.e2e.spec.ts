/** API tokens through the GraphQL API: list, create (shown once), revoke; the token is never stored. */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProjectionEngine } from '../../src/core/projections/projection-engine';
import { connected, startHarness, subscribe, type GqlResponse, type Harness } from '../support/app-harness';
import { recordingLogger } from '../support/temp';

const TOKEN_FIELDS = 'label actor issuedAt issuedBy';
const ENV_TOKEN = 'env-admin-token-0123456789abcdef';

interface Created {
  label: string;
  actor: string;
  issuedAt: string;
  issuedBy: string;
  token: string;
}

/** Every byte bramble stored: the event database, its WAL, and the read-model snapshot. */
function storedBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((f) => f.startsWith('events.db') || f.endsWith('.json'))
    .map((f) => readFileSync(path.join(dataDir, f)).toString('latin1'))
    .join('\n');
}

/** `promise`, or a rejection after `ms` (so a socket that is never closed fails the test, not hangs it). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function codeOf(res: GqlResponse): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

describe('GraphQL API: API tokens', () => {
  let h: Harness;
  const log = recordingLogger();
  /** Every token created in this suite: none may be stored or logged anywhere. */
  const created: string[] = [];
  /** The token of the label revoked below. */
  let shortLived = '';
  const create = async (label: string, as?: string): Promise<GqlResponse<{ createApiToken: Created }>> => {
    const res = await h.gql<{ createApiToken: Created }>(
      `mutation ($label: String!) { createApiToken(label: $label) { ${TOKEN_FIELDS} token } }`,
      { label },
      as,
    );
    if (res.data?.createApiToken) created.push(res.data.createApiToken.token);
    return res;
  };
  const labels = async (): Promise<string[]> =>
    (await h.ok<{ apiTokens: { label: string }[] }>('{ apiTokens { label } }')).apiTokens.map((t) => t.label);

  before(async () => {
    h = await startHarness({ logger: log.logger });
  });
  after(() => h.close());

  it('the ApiToken type has no token, digest or hash field; only CreatedApiToken has the token', async () => {
    const res = await h.ok<Record<string, { fields: { name: string }[] }>>(
      '{ a: __type(name: "ApiToken") { fields { name } } c: __type(name: "CreatedApiToken") { fields { name } } }',
    );
    assert.deepEqual(res.a.fields.map((f) => f.name).sort(), ['actor', 'issuedAt', 'issuedBy', 'label']);
    assert.deepEqual(res.c.fields.map((f) => f.name).sort(), ['actor', 'issuedAt', 'issuedBy', 'label', 'token']);
  });

  it('apiTokens lists the token generated on first start: label admin, issued by system', async () => {
    const res = await h.ok<{ apiTokens: Omit<Created, 'token'>[] }>(`{ apiTokens { ${TOKEN_FIELDS} } }`);
    assert.equal(res.apiTokens.length, 1);
    assert.deepEqual(
      { ...res.apiTokens[0], issuedAt: undefined },
      { label: 'admin', actor: 'admin:admin', issuedBy: 'system', issuedAt: undefined },
    );
    assert.ok(Date.parse(res.apiTokens[0].issuedAt) > 0);
  });

  it('createApiToken returns a 256-bit base64url token once; it authenticates, as actor admin:<label>', async () => {
    const before = Date.now();
    const res = await create('ci runner');
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    const t = res.data!.createApiToken;
    assert.equal(t.label, 'ci runner');
    assert.equal(t.actor, 'admin:ci runner');
    assert.equal(t.issuedBy, 'admin:admin');
    assert.ok(Date.parse(t.issuedAt) >= before - 1000);
    assert.match(t.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(t.token, 'base64url').length, 32);
    assert.notEqual(t.token, h.token);

    // The new token works, and what it does is recorded under its own actor.
    const approved = await h.gql('mutation { approveClient(mac: "dc:a6:32:20:00:01", name: "tok-1") { mac } }', undefined, t.token);
    assert.equal(approved.errors, undefined, JSON.stringify(approved.errors));
    const audit = await h.ok<{ events: { events: { type: string; metadata: { actor: string } }[] } }>(
      '{ events(filter: { types: ["ClientApproved", "ApiTokenIssued"] }, first: 10) { events { type metadata { actor } } } }',
    );
    assert.deepEqual(
      audit.events.events.map((e) => [e.type, e.metadata.actor]),
      [
        ['ApiTokenIssued', 'system'],
        ['ApiTokenIssued', 'admin:admin'],
        ['ClientApproved', 'admin:ci runner'],
      ],
    );

    // Listed, without the token.
    const list = await h.gql<{ apiTokens: Omit<Created, 'token'>[] }>(`{ apiTokens { ${TOKEN_FIELDS} } }`);
    assert.deepEqual(
      list.data!.apiTokens.map((x) => x.label),
      ['admin', 'ci runner'],
    );
    assert.deepEqual(list.data!.apiTokens[1], { label: t.label, actor: t.actor, issuedAt: t.issuedAt, issuedBy: t.issuedBy });
    assert.equal(list.text.includes(t.token), false);
  });

  it('a label of a live token is TOKEN_EXISTS on label; bad labels and "env" are VALIDATION on label', async () => {
    const taken = await create('ci runner');
    assert.equal(codeOf(taken), 'TOKEN_EXISTS');
    assert.equal(taken.errors?.[0]?.extensions?.field, 'label');
    assert.equal(taken.data, null);
    for (const label of ['', 'x'.repeat(65), 'no/slash', 'üml', ' padded', 'env']) {
      const bad = await create(label);
      assert.equal(codeOf(bad), 'VALIDATION', `label ${JSON.stringify(label)}`);
      assert.equal(bad.errors?.[0]?.extensions?.field, 'label');
    }
    assert.deepEqual(await labels(), ['admin', 'ci runner']);
  });

  it('two concurrent creates of one label: exactly one succeeds, the other is TOKEN_EXISTS', async () => {
    const results = await Promise.all([create('race'), create('race'), create('race')]);
    assert.equal(results.filter((r) => r.data?.createApiToken).length, 1);
    assert.deepEqual(results.filter((r) => !r.data).map(codeOf), ['TOKEN_EXISTS', 'TOKEN_EXISTS']);
    assert.deepEqual(await labels(), ['admin', 'ci runner', 'race']);
  });

  it('revokeApiToken: the token stops authenticating at once over HTTP and for new and open WebSockets', async () => {
    const res = await create('short-lived');
    const token = res.data!.createApiToken.token;
    shortLived = token;
    assert.deepEqual((await h.gql('{ groups { name } }', undefined, token)).errors, undefined);

    // An open subscription made with the token, and one made with the admin token.
    await h.liveSubscribers(0);
    const doomedClient = h.ws(token);
    const doomed = subscribe(doomedClient, 'subscription { events { type } }');
    const survivor = subscribe(h.ws(), 'subscription { events(types: ["ApiTokenRevoked"]) { type } }');
    await h.liveSubscribers(2);

    const revoked = await h.gql<{ revokeApiToken: boolean }>('mutation { revokeApiToken(label: "short-lived") }');
    assert.equal(revoked.errors, undefined, JSON.stringify(revoked.errors));
    assert.equal(revoked.data!.revokeApiToken, true);

    // HTTP: refused before anything runs.
    const http = await h.gql('{ groups { name } }', undefined, token);
    assert.equal(http.status, 401);
    assert.equal(codeOf(http), 'UNAUTHENTICATED');
    assert.equal(http.data, undefined);
    // The open WebSocket was closed with 4401; a new one is refused with 4401.
    await assert.rejects(within(doomed.done, 5000, 'the open WebSocket is closed'), (e: { code?: number; reason?: string }) => {
      assert.equal(e.code, 4401);
      assert.match(e.reason ?? '', /revoked/);
      return true;
    });
    const fresh = subscribe(h.ws(token), 'subscription { events { type } }');
    await assert.rejects(within(fresh.done, 5000, 'the new WebSocket is refused'), (e: { code?: number }) => e.code === 4401);
    // The admin's subscription saw the revocation and lives on.
    assert.equal((await survivor.next()).data?.events.type, 'ApiTokenRevoked');
    survivor.unsubscribe();
    await survivor.done;

    assert.deepEqual(await labels(), ['admin', 'ci runner', 'race']);
    const audit = await h.ok<{ events: { events: { data: { name: string }; metadata: { actor: string } }[] } }>(
      '{ events(filter: { types: ["ApiTokenRevoked"] }, first: 10) { events { data metadata { actor } } } }',
    );
    assert.deepEqual(
      audit.events.events.map((e) => [e.data.name, e.metadata.actor]),
      [['short-lived', 'admin:admin']],
    );
  });

  it('an open WebSocket of another token is not closed by a revocation, and its new operations still run', async () => {
    const keep = (await create('keeper')).data!.createApiToken.token;
    const gone = (await create('goner')).data!.createApiToken.token;
    const client = h.ws(keep);
    const first = subscribe(client, '{ groups { name } }');
    await connected(client);
    assert.ok((await first.next()).data);
    await first.done;
    await h.ok('mutation { revokeApiToken(label: "goner") }');
    assert.equal((await h.gql('{ groups { name } }', undefined, gone)).status, 401);
    const again = subscribe(client, '{ apiTokens { label } }');
    const got = (await again.next()).data as { apiTokens: { label: string }[] };
    assert.deepEqual(
      got.apiTokens.map((t) => t.label),
      ['admin', 'ci runner', 'keeper', 'race'],
    );
    await again.done;
  });

  it('revoking an unknown or already revoked label is TOKEN_NOT_FOUND; "env" is FORBIDDEN (BRAMBLE_ADMIN_TOKEN lives in the environment)', async () => {
    for (const label of ['nosuch', 'short-lived']) {
      const res = await h.gql(`mutation { revokeApiToken(label: "${label}") }`);
      assert.equal(codeOf(res), 'TOKEN_NOT_FOUND');
      assert.equal(res.errors?.[0]?.extensions?.field, 'label');
    }
    const env = await h.gql('mutation { revokeApiToken(label: "env") }');
    assert.equal(codeOf(env), 'FORBIDDEN');
    assert.match(env.errors?.[0]?.message ?? '', /BRAMBLE_ADMIN_TOKEN/);
  });

  it('a revoked label can be created again, with a new token; the old one stays dead', async () => {
    const res = await create('short-lived');
    const again = res.data!.createApiToken.token;
    assert.notEqual(again, shortLived);
    assert.equal((await h.gql('{ groups { name } }', undefined, again)).status, 200);
    assert.equal((await h.gql('{ groups { name } }', undefined, shortLived)).status, 401);
  });

  it('no created token appears in the event database, its WAL, the read-model snapshot, the logs, the audit log or its export', async () => {
    assert.ok(created.length >= 6);
    await h.app.nest.get(ProjectionEngine).saveSnapshot();
    const files = readdirSync(h.dataDir);
    assert.ok(files.includes('events.db') && files.includes('events.db-wal'), files.join(', '));
    assert.ok(
      files.some((f) => f.endsWith('.json')),
      `a read-model snapshot: ${files.join(', ')}`,
    );
    const audit = await h.gql('{ events(first: 1000) { events { type data metadata { actor } } } }');
    const exported = await fetch(`${h.url}/audit/export.ndjson`, { headers: { authorization: `Bearer ${h.token}` } });
    assert.equal(exported.status, 200);
    const exportText = await exported.text();
    assert.match(exportText, /"sha256":"\[redacted\]"/);
    assert.ok(log.lines.length > 0, 'the logger recorded something');
    const places: Record<string, string> = {
      store: storedBytes(h.dataDir),
      logs: log.lines.map((l) => JSON.stringify(l)).join('\n'),
      audit: audit.text,
      export: exportText,
    };
    for (const token of created) {
      for (const [where, text] of Object.entries(places)) assert.equal(text.includes(token), false, `a created token appears in ${where}`);
    }
  });
});

describe('GraphQL API: API tokens with BRAMBLE_ADMIN_TOKEN', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ adminToken: ENV_TOKEN });
  });
  after(() => h.close());

  it('the environment token is not listed, cannot be revoked, and issues tokens as admin:env', async () => {
    assert.deepEqual((await h.ok<{ apiTokens: unknown[] }>('{ apiTokens { label } }')).apiTokens, []);
    const revoke = await h.gql('mutation { revokeApiToken(label: "env") }');
    assert.equal(codeOf(revoke), 'FORBIDDEN');
    assert.equal(revoke.errors?.[0]?.extensions?.field, 'label');
    assert.equal((await h.gql('{ groups { name } }')).status, 200, 'the environment token still works');
    const res = await h.ok<{ createApiToken: Created }>('mutation { createApiToken(label: "grafana") { label issuedBy token } }');
    assert.equal(res.createApiToken.issuedBy, 'admin:env');
    // A token may revoke itself; after that it is refused.
    const self = res.createApiToken.token;
    const revokedSelf = await h.gql<{ revokeApiToken: boolean }>('mutation { revokeApiToken(label: "grafana") }', undefined, self);
    assert.equal(revokedSelf.data?.revokeApiToken, true);
    assert.equal((await h.gql('{ groups { name } }', undefined, self)).status, 401);
    assert.equal((await h.gql('{ groups { name } }')).status, 200);
  });
});
