/**
 * The request limits end to end, over real HTTP and WebSocket: each hostile shape that stalled or
 * killed bramble gets a coded error in well under a second, and bad values that gave INTERNAL or an
 * HTTP 500 are VALIDATION errors naming the field.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { getIntrospectionQuery } from 'graphql';
import { CostlyWork } from '../../src/core/limits/concurrency-limiter';
import { startHarness, subscribe, type GqlResponse, type Harness } from '../support/app-harness';

/** `fragment Fi { ...Fi+1 ... on Query { ...Fi+1 } }`: 22 lines, 2^22 paths. */
function nestedFragments(n: number): string {
  let q = '{ ...F0 }';
  for (let i = 0; i < n; i++) q += `\nfragment F${i} on Query { ...F${i + 1} ... on Query { ...F${i + 1} } }`;
  return `${q}\nfragment F${n} on Query { health { status } }`;
}

const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await work();
  return { value, ms: performance.now() - t0 };
}

function assertRefused(res: GqlResponse, code: string, status: number, what: string): void {
  assert.equal(res.errors?.[0]?.extensions?.code, code, `${what}: ${res.text.slice(0, 300)}`);
  assert.equal(res.status, status, what);
  assert.equal(res.data ?? undefined, undefined, `${what}: no data`);
}

describe('GraphQL limits over HTTP', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    // Something to page through.
    for (let i = 0; i < 5; i++) await h.ok(`mutation { approveClient(mac: "dc:a6:32:30:00:0${i}") { mac } }`);
  });
  after(() => h.close());

  it('the nested-fragment query (1 KB, no token) is refused with QUERY_TOO_COMPLEX in well under a second', async () => {
    const query = nestedFragments(22);
    assert.ok(query.length < 1500);
    for (const token of [null, h.token]) {
      const { value: res, ms } = await timed(() => h.gql(query, undefined, token));
      assertRefused(res, 'QUERY_TOO_COMPLEX', 400, `token ${token ? 'yes' : 'no'}`);
      assert.ok(ms < 1000, `${ms} ms`);
    }
  });

  it('alias floods: 1000 × stateAt, 1000 × events(first: 1000), 300,000 × health', async () => {
    // 1000 aliases are 10,000 tokens: over the token limit before their cost is even measured.
    const stateAt = await timed(() => h.gql(aliases(1000, 'stateAt(position: 1) { position }')));
    assertRefused(stateAt.value, 'QUERY_TOO_LARGE', 413, '1000 × stateAt');
    const fewStateAt = await timed(() => h.gql(aliases(300, 'stateAt(position: 1) { position }')));
    assertRefused(fewStateAt.value, 'QUERY_TOO_COMPLEX', 400, '300 × stateAt');
    const events = await timed(() => h.gql(aliases(1000, 'events(first: 1000) { events { type data } }')));
    assertRefused(events.value, 'QUERY_TOO_LARGE', 413, '1000 × events(first: 1000)');
    const fewEvents = await timed(() =>
      h.gql(aliases(3, 'events(first: 1000) { events { id stream type data metadata { actor timestamp } } }')),
    );
    assertRefused(fewEvents.value, 'QUERY_TOO_COMPLEX', 400, '3 × events(first: 1000)');
    const health = aliases(300_000, 'health { status }');
    const anonymous = await timed(() => h.gql(health, undefined, null));
    assertRefused(anonymous.value, 'QUERY_TOO_LARGE', 413, '300,000 × health without a token');
    const withToken = await timed(() => h.gql(health));
    assertRefused(withToken.value, 'QUERY_TOO_LARGE', 413, '300,000 × health with a token');
    for (const [what, t] of Object.entries({ stateAt, fewStateAt, events, fewEvents, anonymous, withToken }))
      assert.ok(t.ms < 1000, `${what}: ${t.ms} ms`);
    // The server is fine.
    assert.equal((await h.ok('{ health { status } }')).health.status, 'ok');
  });

  it('the document is capped at 64 KB and 5000 tokens (QUERY_TOO_LARGE), whatever the body limit', async () => {
    const big = await h.gql(`{ health { status } } # ${'x'.repeat(70_000)}`);
    assertRefused(big, 'QUERY_TOO_LARGE', 413, '70 KB');
    const tokens = await h.gql(`{ health { ${'status '.repeat(5001)} } }`);
    assertRefused(tokens, 'QUERY_TOO_LARGE', 413, '5000 tokens');
    // Variables are not the document: a class list of megabytes still travels in one.
    const csv = `username,password\n${Array.from({ length: 2 }, (_, i) => `big${i},Secret-Pass-${i}`).join('\n')}\n# ${'x'.repeat(2_000_000)}\n`;
    const imported = await h.gql('mutation ($csv: String!) { importUsers(csv: $csv) { line ok } }', { csv });
    assert.equal(imported.status, 200, imported.text.slice(0, 200));
  });

  it('without a token: the body is capped at 64 KB, and nothing but health is looked at', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ health { status } }', variables: { x: 'y'.repeat(100_000) } }),
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code, 'QUERY_TOO_LARGE');
    // An unauthenticated costly document is refused for the token (401), not measured.
    assertRefused(
      await h.gql(aliases(100, 'stateAt(position: 1) { position }'), undefined, null),
      'UNAUTHENTICATED',
      401,
      'stateAt without a token',
    );
    // Health alone is fine; a flood of it is not.
    assert.equal((await h.gql('{ health { status } }', undefined, null)).status, 200);
    assertRefused(await h.gql(aliases(50, 'health { status }'), undefined, null), 'QUERY_TOO_COMPLEX', 400, '50 × health without a token');
  });

  it("repeated fields that would cost GraphQL's validation too much, and too many operations, are QUERY_TOO_COMPLEX", async () => {
    assertRefused(await h.gql(`{ ${'clients { mac } '.repeat(300)} }`), 'QUERY_TOO_COMPLEX', 400, '300 × clients');
    const ops = Array.from({ length: 21 }, (_, i) => `query Q${i} { health { status } }`).join('\n');
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.token}` },
      body: JSON.stringify({ query: ops, operationName: 'Q0' }),
    });
    assert.equal(res.status, 400);
  });

  it('GET requests pass the same gate; persisted queries (a hash without its document) are off', async () => {
    const get = async (params: Record<string, string>, token: string | null) => {
      const res = await fetch(`${h.url}/graphql?${new URLSearchParams(params)}`, {
        headers: { 'apollo-require-preflight': 'true', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      return { status: res.status, body: (await res.json()) as { data?: unknown; errors?: { extensions: { code: string } }[] } };
    };
    assert.equal((await get({ query: '{ health { status } }' }, null)).status, 200);
    assert.equal((await get({ query: '{ users { username } }' }, null)).status, 401);
    const nested = await get({ query: nestedFragments(22) }, h.token);
    assert.equal(nested.body.errors?.[0].extensions.code, 'QUERY_TOO_COMPLEX');
    const apq = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${h.token}` },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } }),
    });
    const body = (await apq.json()) as { errors: { extensions: { code: string } }[] };
    assert.equal(body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_SUPPORTED');
  });

  it('found by the fuzzer: a validation rule that throws, and 100 bad variable values, are coded errors, not INTERNAL', async () => {
    // SingleFieldSubscriptionsRule evaluates @include(if: 1) and throws: Apollo answered 500 INTERNAL.
    const thrown = await h.gql('subscription { clientDetected @include(if: 1) { mac } }');
    assert.equal(thrown.status, 400, thrown.text);
    assert.equal(thrown.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    // Past 50 coercion errors graphql-js adds an uncoded "too many errors": it was INTERNAL.
    const groups = await h.gql('mutation ($g: [String!]!) { setUserGroups(username: "nobody", groups: $g) { username } }', {
      g: Array.from({ length: 100 }, (_, i) => i),
    });
    assert.equal(groups.status, 400, groups.text.slice(0, 300));
    assert.ok(
      groups.errors && groups.errors.length > 0 && groups.errors.every((e) => e.extensions?.code === 'BAD_USER_INPUT'),
      groups.text.slice(0, 300),
    );
  });

  it("GraphiQL's introspection query still passes every limit", async () => {
    const res = await h.gql(
      getIntrospectionQuery({
        descriptions: true,
        specifiedByUrl: true,
        directiveIsRepeatable: true,
        schemaDescription: true,
        inputValueDeprecation: true,
        oneOf: true,
      }),
    );
    assert.equal(res.status, 200, res.text.slice(0, 300));
    assert.ok((res.data as { __schema: { types: unknown[] } }).__schema.types.length > 20);
  });

  it('a costly operation beyond its queue answers TOO_BUSY (and runs again once the queue has room)', async () => {
    const costly = h.app.nest.get(CostlyWork);
    const hold: Array<() => void> = [];
    const holders = Array.from({ length: 6 }, () => costly.stateAt.run(() => new Promise<void>((resolve) => hold.push(resolve))));
    try {
      await new Promise((r) => setImmediate(r));
      assert.equal(costly.stateAt.running + costly.stateAt.queued, 6);
      const res = await h.gql('{ stateAt(position: 1) { position } }');
      assert.equal(res.errors?.[0]?.extensions?.code, 'TOO_BUSY', res.text);
      assert.equal(res.status, 200);
    } finally {
      while (costly.stateAt.running + costly.stateAt.queued > 0 && hold.length > 0) {
        hold.shift()!();
        await new Promise((r) => setImmediate(r));
      }
      await Promise.allSettled(holders);
    }
    assert.equal((await h.ok('{ stateAt(position: 1) { position } }')).stateAt.position, 1);
  });
});

describe('GraphQL limits over WebSocket', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const errorsOf = async (query: string, variables?: Record<string, unknown>) => {
    const client = h.ws();
    const sub = subscribe(client, query, variables);
    try {
      await sub.done;
      return sub.results[0]?.errors as Array<{ extensions?: { code?: string; field?: string } }> | undefined;
    } catch (errors) {
      return errors as Array<{ extensions?: { code?: string; field?: string } }>;
    } finally {
      await client.dispose();
    }
  };

  it('the same limits and codes: nested fragments, big documents, too many tokens, unknown fields', async () => {
    assert.equal((await errorsOf(nestedFragments(22)))?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX');
    assert.equal((await errorsOf(aliases(2, 'stateAt(position: 1) { position }')))?.[0]?.extensions?.code, 'QUERY_TOO_COMPLEX');
    assert.equal((await errorsOf(`{ health { status } } # ${'x'.repeat(70_000)}`))?.[0]?.extensions?.code, 'QUERY_TOO_LARGE');
    assert.equal((await errorsOf(`{ health { ${'status '.repeat(5001)} } }`))?.[0]?.extensions?.code, 'QUERY_TOO_LARGE');
    assert.equal((await errorsOf('subscription { nope }'))?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.equal((await errorsOf('subscription { events(types: $t) { type } }'))?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('the events subscription checks its arguments (VALIDATION with the field)', async () => {
    const types = Array.from({ length: 100_000 }, (_, i) => `T${i}`);
    const many = await errorsOf('subscription ($t: [String!]) { events(types: $t) { type } }', { t: types });
    assert.deepEqual([many?.[0]?.extensions?.code, many?.[0]?.extensions?.field], ['VALIDATION', 'types']);
    const long = await errorsOf('subscription ($p: String) { events(streamPrefix: $p) { type } }', { p: 'x'.repeat(100_000) });
    assert.deepEqual([long?.[0]?.extensions?.code, long?.[0]?.extensions?.field], ['VALIDATION', 'streamPrefix']);
  });

  it('a WebSocket runs at most 50 operations at once: the 51st gets TOO_BUSY', async () => {
    const client = h.ws();
    const subs = Array.from({ length: 50 }, () => subscribe(client, 'subscription { events { type } }'));
    try {
      await h.liveSubscribers(50, 10_000);
      const extra = subscribe(client, 'subscription { events { type } }');
      await assert.rejects(extra.done, (errors: Array<{ extensions?: { code?: string } }>) => errors[0]?.extensions?.code === 'TOO_BUSY');
    } finally {
      for (const s of subs) s.unsubscribe();
      await client.dispose();
      await h.liveSubscribers(0, 10_000);
    }
  });

  it('a WebSocket message over 1 MB closes the socket (1009); class lists travel over HTTP', async () => {
    const closed = (await errorsOf('subscription ($p: String) { events(streamPrefix: $p) { type } }', {
      p: 'x'.repeat(2 << 20),
    })) as unknown as { code?: number };
    assert.equal(closed.code, 1009);
  });
});

describe('bad values are VALIDATION errors, not INTERNAL or HTTP 500', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  const validation = async (query: string, variables: Record<string, unknown> | undefined, field: string) => {
    const res = await h.gql(query, variables);
    assert.equal(res.errors?.[0]?.extensions?.code, 'VALIDATION', `${query}: ${res.text.slice(0, 300)}`);
    assert.equal(res.errors?.[0]?.extensions?.field, field, query);
  };

  it('events: after 1e308, a 1 MB streamPrefix, 100,000 types, huge or many prefixes, a long actor or time', async () => {
    await validation('{ events(after: 1e308) { endCursor } }', undefined, 'after');
    await validation('{ events(after: 1.5) { endCursor } }', undefined, 'after');
    await validation(
      'query ($p: String) { events(filter: { streamPrefix: $p }) { endCursor } }',
      { p: 'x'.repeat(1 << 20) },
      'streamPrefix',
    );
    await validation(
      'query ($t: [String!]) { events(filter: { types: $t }) { endCursor } }',
      { t: Array.from({ length: 100_000 }, (_, i) => `T${i}`) },
      'types',
    );
    await validation('query ($t: [String!]) { events(filter: { types: $t }) { endCursor } }', { t: ['x'.repeat(10_000)] }, 'types');
    await validation(
      'query ($p: [String!]) { events(filter: { streamPrefixes: $p }) { endCursor } }',
      { p: Array.from({ length: 1000 }, (_, i) => `s${i}`) },
      'streamPrefixes',
    );
    await validation('query ($a: String) { events(filter: { actor: $a }) { endCursor } }', { a: 'a'.repeat(100_000) }, 'actor');
    await validation(
      'query ($s: String) { events(filter: { since: $s }) { endCursor } }',
      { s: `2026-01-01T00:00:00Z${' '.repeat(100_000)}` },
      'since',
    );
    // At the limits, fine.
    const ok = await h.gql(
      'query ($t: [String!]) { events(filter: { types: $t, streamPrefix: "client-" }, after: 9007199254740991) { endCursor } }',
      {
        t: Array.from({ length: 100 }, (_, i) => `T${i}`),
      },
    );
    assert.equal(ok.errors, undefined, ok.text);
  });

  it('stateAt: a position out of range, a time of a megabyte', async () => {
    await validation('{ stateAt(position: 1e308) { position } }', undefined, 'position');
    await validation('query ($t: String) { stateAt(time: $t) { position } }', { t: 'x'.repeat(1 << 20) }, 'time');
  });

  it('/audit/export.ndjson: an out-of-range after, too many types, a long prefix are HTTP 400 VALIDATION', async () => {
    const get = async (query: string) => {
      const res = await fetch(`${h.url}/audit/export.ndjson?${query}`, { headers: { authorization: `Bearer ${h.token}` } });
      return { status: res.status, body: await res.text() };
    };
    for (const query of [
      'after=99999999999999999999',
      'after=1e308',
      'after=-1',
      `types=${Array.from({ length: 1000 }, (_, i) => `T${i}`).join(',')}`,
      `streamPrefix=${'x'.repeat(10_000)}`,
      'since=yesterday',
    ]) {
      const res = await get(query);
      assert.equal(res.status, 400, `${query.slice(0, 40)}: ${res.body.slice(0, 200)}`);
      assert.equal((JSON.parse(res.body) as { code: string }).code, 'VALIDATION', query.slice(0, 40));
    }
    assert.equal((await get('after=9007199254740991')).status, 200);
  });
});
