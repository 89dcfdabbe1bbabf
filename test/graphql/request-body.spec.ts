/**
 * The body of a GraphQL request: JSON checked before GraphQL sees it (document size, variables'
 * size and nesting, no batches), large bodies parsed in a worker thread, and a body over its limit
 * refused from its Content-Length, before it is read.
 */
import { strict as assert } from 'node:assert';
import { request, createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { BODY_LIMITS, BodyParserPool, checkVariables, inspectBody, readBody } from '../../src/graphql/request-body';

const bytes = (value: unknown): Buffer => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

describe('GraphQL request bodies', () => {
  it('inspectBody: JSON, no batches, a document of at most 64 KB, variables of at most 10,000 values 32 deep', () => {
    assert.deepEqual(inspectBody(bytes({ query: '{ health { status } }' })), { kind: 'body', body: { query: '{ health { status } }' } });
    const notJson = inspectBody(bytes('{"query": '));
    assert.equal(notJson.kind === 'refused' && notJson.refusal.code, 'BAD_REQUEST');
    const batch = inspectBody(bytes([{ query: '{ a }' }, { query: '{ b }' }]));
    assert.equal(batch.kind === 'refused' && batch.refusal.code, 'BAD_REQUEST');
    const big = inspectBody(bytes({ query: `{ a } # ${'x'.repeat(BODY_LIMITS.maxDocumentBytes)}` }));
    assert.ok(big.kind === 'refused' && big.refusal.code === 'QUERY_TOO_LARGE' && big.refusal.status === 413);
    const many = inspectBody(bytes({ query: 'q', variables: { t: Array.from({ length: 20_000 }, (_, i) => i) } }));
    assert.ok(many.kind === 'variables' && many.problem.variable === 't', JSON.stringify(many).slice(0, 200));
    // A class list is one value, however long.
    const csv = inspectBody(bytes({ query: 'q', variables: { csv: 'u,p\n'.repeat(1_000_000) } }));
    assert.equal(csv.kind, 'body');
  });

  it('checkVariables counts every value and measures nesting without recursion', () => {
    assert.equal(checkVariables({ a: [1, 2, { b: 'c' }] }), null);
    assert.match(checkVariables({ ok: 1, t: Array.from({ length: 10_001 }, () => 'x') })?.message ?? '', /more than 10000 values/);
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.deepEqual(checkVariables({ deep })?.variable, 'deep');
  });

  it('the worker parses large bodies and hands back only what passes', async () => {
    const pool = new BodyParserPool();
    try {
      const ok = await pool.inspect(bytes({ query: '{ importUsers }', variables: { csv: 'u,p\n'.repeat(500_000) } }));
      assert.ok(ok.kind === 'body' && (ok.body as { variables: { csv: string } }).variables.csv.length === 2_000_000);
      const refused = await pool.inspect(bytes({ query: `{ a } # ${'x'.repeat(200_000)}` }));
      assert.ok(refused.kind === 'refused' && refused.refusal.code === 'QUERY_TOO_LARGE');
      const variables = await pool.inspect(
        bytes({ query: 'query ($t: [String]) { a(types: $t) }', variables: { t: Array.from({ length: 100_000 }, (_, i) => `T${i}`) } }),
      );
      assert.ok(variables.kind === 'variables' && variables.query === 'query ($t: [String]) { a(types: $t) }');
      assert.equal(pool.busy, 0);
    } finally {
      await pool.close();
    }
  });
});

describe('reading a request body', () => {
  let server: Server;
  let port = 0;
  const outcomes: unknown[] = [];
  before(async () => {
    server = createServer((req, res) => {
      void readBody(req, 1000).then((result) => {
        outcomes.push(Buffer.isBuffer(result) ? result.length : result);
        res.end(Buffer.isBuffer(result) ? 'read' : JSON.stringify(result));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        { port, host: '127.0.0.1', method: 'POST', headers: { 'content-length': String(body.length), ...headers } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('reads a body within the limit; refuses one over it by its Content-Length; refuses compressed bodies', async () => {
    assert.equal((await post(Buffer.alloc(900))).text, 'read');
    const over = await post(Buffer.alloc(5000));
    assert.equal((JSON.parse(over.text) as { code: string }).code, 'QUERY_TOO_LARGE');
    const gzip = await post(Buffer.alloc(10), { 'content-encoding': 'gzip' });
    assert.equal((JSON.parse(gzip.text) as { status: number }).status, 415);
    assert.deepEqual(
      outcomes.map((o) => (typeof o === 'number' ? o : (o as { code: string }).code)),
      [900, 'QUERY_TOO_LARGE', 'BAD_REQUEST'],
    );
  });
});
