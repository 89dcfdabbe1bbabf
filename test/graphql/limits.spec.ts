/**
 * The request limits without a server: measuring a document (depth, nesting, cost, field-merge
 * work) is linear in it, each limit refuses with its code, and parsing stops at the size and token
 * limits. The schema is a small one shaped like bramble's (the field coordinates FIELD_COSTS names).
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { buildSchema, getIntrospectionQuery, parse, validate, type DocumentNode } from 'graphql';
import { QUERY_LIMITS, checkDocumentLimits, measureDocument } from '../../src/graphql/query-limits';
import { gateRequest, parseWithinLimits } from '../../src/graphql/request-gate';

const schema = buildSchema(`
  type Query {
    health: Health!
    clients: [Client!]!
    events(first: Int = 100, after: Float): EventPage!
    stateAt(position: Float): StateAt!
  }
  type Mutation { rebuildProjections: Rebuild! importUsers(csv: String!): [Row!]! }
  type Health { status: String! uptimeSeconds: Int! }
  type Client { mac: String! name: String image: Image }
  type Image { id: String! clients: [Client!]! }
  type EventPage { events: [Event!]! endCursor: Float hasNextPage: Boolean! }
  type Event { position: Float! type: String! metadata: Meta! }
  type Meta { actor: String! }
  type StateAt { position: Float! clients: [Client!]! }
  type Rebuild { events: Int! }
  type Row { line: Int! ok: Boolean! }
`);

/** `fragment Fi { ...Fi+1 ... on Query { ...Fi+1 } }`: 2^n paths in 40 bytes a line. */
function nestedFragments(n: number): string {
  let q = '{ ...F0 }';
  for (let i = 0; i < n; i++) q += `\nfragment F${i} on Query { ...F${i + 1} ... on Query { ...F${i + 1} } }`;
  return `${q}\nfragment F${n} on Query { health { status } }`;
}

function timed<T>(f: () => T): { value: T; ms: number } {
  const t0 = performance.now();
  const value = f();
  return { value, ms: performance.now() - t0 };
}

const check = (query: string, options: Partial<Parameters<typeof checkDocumentLimits>[2]> = {}) =>
  checkDocumentLimits(schema, parse(query, { maxTokens: 1e6 }), { anonymous: false, ...options });

describe('GraphQL limits: measuring a document', () => {
  it('measures nested fragments in linear time, once per fragment, and refuses them for their cost', () => {
    const small = parse(nestedFragments(200));
    const large = parse(nestedFragments(400));
    measureDocument(schema, small); // warm up
    const a = timed(() => measureDocument(schema, small));
    const b = timed(() => measureDocument(schema, large));
    // Walked once per spread, 200 levels would be 2^200 walks: any bound at all tells the two apart
    // (these are generous, for a shared machine).
    assert.ok(a.ms < 500 && b.ms < 1000, `200 levels: ${a.ms.toFixed(1)} ms, 400 levels: ${b.ms.toFixed(1)} ms`);
    // Expanded in place, the document has 2^200 paths: its cost says so (without computing them).
    assert.ok(a.value.byOperation[0].measure.cost > 1e50);
    const refused = timed(() => check(nestedFragments(400), { anonymous: true }));
    assert.equal(refused.value?.extensions.code, 'QUERY_TOO_COMPLEX');
    assert.ok(refused.ms < 1000, `${refused.ms} ms`);
  });

  it('depth: fields nested, fragments where they are spread, introspection exempt; nesting caps everything', () => {
    const deep = '{ clients { image { clients { image { clients { image { clients { image { id } } } } } } } } }';
    assert.equal(measureDocument(schema, parse(deep)).byOperation[0].measure.depth, 9);
    assert.equal(check(deep)?.extensions.code, 'DEPTH_LIMIT');
    assert.match(check(deep)?.message ?? '', /9 levels deep; the limit is 8/);
    const viaFragments =
      '{ clients { ...A } } fragment A on Client { image { clients { ...B } } } fragment B on Client { image { clients { image { clients { image { id } } } } } }';
    assert.equal(check(viaFragments)?.extensions.code, 'DEPTH_LIMIT');
    const introspection = '{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } }';
    assert.equal(check(introspection), null);
    const tooNested = `{ __schema { types { fields { type ${'{ ofType '.repeat(40)}{ name }${' }'.repeat(40)} } } } }`;
    assert.equal(check(tooNested)?.extensions.code, 'DEPTH_LIMIT');
    // GraphiQL's own introspection query passes every limit.
    assert.equal(
      check(
        getIntrospectionQuery({
          descriptions: true,
          specifiedByUrl: true,
          directiveIsRepeatable: true,
          schemaDescription: true,
          inputValueDeprecation: true,
        }),
      ),
      null,
    );
  });

  it('cost: lists multiply by `first` (literal, variable or default) or by their known size; costly fields cost more', () => {
    const cost = (q: string, variables?: Record<string, unknown>, listSizes?: Record<string, number>) =>
      measureDocument(schema, parse(q), variables, listSizes).byOperation[0].measure.cost;
    // events (10) + first × (events list (1) + position + type) + endCursor... per item
    assert.equal(cost('{ events(first: 10) { events { position type } } }'), 10 + 10 * (1 + 2));
    assert.equal(cost('query ($n: Int) { events(first: $n) { events { position } } }', { n: 7 }), 10 + 7 * 2);
    assert.equal(cost('{ events { events { position } } }'), 10 + 100 * 2, 'the default of `first`');
    assert.equal(cost('{ events(first: 1000000) { events { position } } }'), 10 + 1000 * 2, 'capped at the page limit');
    assert.equal(cost('query ($n: Int) { events(first: $n) { events { position } } }', {}), 10 + 1000 * 2, 'unknown: the page limit');
    assert.equal(cost('{ clients { mac name } }', undefined, { 'Query.clients': 30 }), 1 + 30 * 2);
    assert.equal(cost('{ clients { mac image { id } } }', undefined, { 'Query.clients': 0 }), 1);
    assert.equal(cost('{ clients { mac } }'), 1 + 100 * 1, 'an unknown size: 100');
    assert.ok(cost('{ stateAt(position: 1) { position } }') >= 10_000);
    assert.ok(cost('mutation { rebuildProjections { events } }') >= 10_000);
  });

  it('refuses with QUERY_TOO_COMPLEX: alias floods of costly fields, big pages, and more than 200 without a token', () => {
    const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
    assert.equal(check(aliases(2, 'stateAt(position: 1) { position }'))?.extensions.code, 'QUERY_TOO_COMPLEX');
    assert.equal(check(aliases(1, 'stateAt(position: 1) { position }')), null);
    assert.equal(check(aliases(1000, 'events(first: 1000) { events { position type } }'))?.extensions.code, 'QUERY_TOO_COMPLEX');
    assert.equal(check(aliases(1, 'events(first: 1000) { events { position type } }')), null);
    assert.equal(check(aliases(1000, 'health { status }'))?.extensions.code, 'QUERY_TOO_COMPLEX');
    assert.equal(check(aliases(3, 'health { status }'), { anonymous: true }), null);
    const anonymous = check(aliases(4, 'health { status }'), { anonymous: true });
    assert.equal(anonymous?.extensions.code, 'QUERY_TOO_COMPLEX');
    assert.match(anonymous?.message ?? '', /without a token/);
  });

  it("refuses documents whose field merging would cost GraphQL's validation more than the limit, before it runs", () => {
    const repeated = (n: number) => `{ ${'health { status } '.repeat(n)} }`;
    assert.equal(check(repeated(10)), null);
    const refused = check(repeated(200));
    assert.equal(refused?.extensions.code, 'QUERY_TOO_COMPLEX');
    assert.match(refused?.message ?? '', /share a response name/);
    // Fragments spread side by side count as overlapping anything at their level.
    const spreads = `{ clients { ${Array.from({ length: 120 }, (_, i) => `...F${i}`).join(' ')} } } ${Array.from({ length: 120 }, (_, i) => `fragment F${i} on Client { mac name }`).join(' ')}`;
    assert.equal(check(spreads, { listSizes: { 'Query.clients': 1 } })?.extensions.code, 'QUERY_TOO_COMPLEX');
    // What passes the bound validates quickly.
    const passing = parse(repeated(100));
    assert.equal(checkDocumentLimits(schema, passing, { anonymous: false }), null);
    validate(schema, passing);
    const t = timed(() => validate(schema, passing));
    assert.ok(t.ms < 200, `${t.ms} ms`);
  });

  it('refuses more than 20 operations in one document', () => {
    const ops = (n: number) => Array.from({ length: n }, (_, i) => `query Q${i} { health { status } }`).join('\n');
    assert.equal(check(ops(20), { operationName: 'Q0' }), null);
    assert.equal(check(ops(21), { operationName: 'Q0' })?.extensions.code, 'QUERY_TOO_COMPLEX');
  });

  it('holds the operation that runs to the limits when operationName names it', () => {
    const doc =
      'query Cheap { health { status } } query Costly { a: stateAt(position: 1) { position } b: stateAt(position: 2) { position } }';
    assert.equal(check(doc, { operationName: 'Cheap' }), null);
    assert.equal(check(doc, { operationName: 'Costly' })?.extensions.code, 'QUERY_TOO_COMPLEX');
    assert.equal(check(doc)?.extensions.code, 'QUERY_TOO_COMPLEX', 'no name: every operation');
  });
});

describe('GraphQL limits: parsing and the gate', () => {
  const isDocument = (v: unknown): v is DocumentNode => typeof v === 'object' && v !== null && (v as DocumentNode).kind === 'Document';

  it('refuses a document over 64 KB before parsing it, and one over 5000 tokens while parsing (QUERY_TOO_LARGE, 413)', () => {
    const big = parseWithinLimits(`{ health { status } } # ${'x'.repeat(QUERY_LIMITS.maxDocumentBytes)}`);
    assert.ok(!isDocument(big) && big.error.extensions.code === 'QUERY_TOO_LARGE' && big.status === 413);
    const multibyte = parseWithinLimits(`{ health { status } } # ${'é'.repeat(QUERY_LIMITS.maxDocumentBytes / 2 + 1)}`);
    assert.ok(!isDocument(multibyte) && multibyte.error.extensions.code === 'QUERY_TOO_LARGE', 'bytes, not characters');
    const tokens = parseWithinLimits(`{ ${'a '.repeat(QUERY_LIMITS.maxTokens)} }`);
    assert.ok(!isDocument(tokens) && tokens.error.extensions.code === 'QUERY_TOO_LARGE');
    assert.match(tokens.error.message, /more than 5000 tokens/);
    assert.ok(isDocument(parseWithinLimits(`{ ${'a '.repeat(QUERY_LIMITS.maxTokens - 10)} }`)));
    const syntax = parseWithinLimits('{ health { status ');
    assert.ok(!isDocument(syntax) && syntax.error.extensions.code === 'GRAPHQL_PARSE_FAILED' && syntax.status === 400);
  });

  it('without a token, refuses anything but health before measuring it (UNAUTHENTICATED, 401)', () => {
    const refused = gateRequest(schema, { query: '{ clients { mac } }' }, true);
    assert.ok(refused && 'error' in refused && refused.status === 401 && refused.error.extensions.code === 'UNAUTHENTICATED');
    // A costly document that is not public is refused for the token, not measured.
    const costly = gateRequest(schema, { query: `{ ${'a: stateAt(position: 1) { position } '.repeat(50)} }` }, true);
    assert.ok(costly && 'error' in costly && costly.error.extensions.code === 'UNAUTHENTICATED');
    const twoOps = gateRequest(schema, { query: 'query A { health { status } } query B { clients { mac } }', operationName: 'A' }, true);
    assert.ok(twoOps && 'error' in twoOps && twoOps.status === 401, 'every operation of the document must be public');
    const health = gateRequest(schema, { query: '{ health { status } }' }, true);
    assert.ok(health && 'document' in health);
    assert.equal(gateRequest(schema, { query: 42 }, true), undefined, 'not a GraphQL request: Apollo answers');
  });
});
