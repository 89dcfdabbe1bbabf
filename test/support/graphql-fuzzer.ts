/**
 * A schema-aware GraphQL fuzzer (test/graphql/graphql-fuzz.e2e.spec.ts runs it), in a child process
 * of its own so that its work (building operations, sending megabytes) never runs on the event loop
 * of the bramble it fuzzes. It introspects the schema, then for `durationMs` sends random
 * operations built from it (queries, mutations, subscriptions; HTTP POST, GET and graphql-ws; with
 * and without the token) with hostile arguments (huge, empty, unicode and lone surrogates, numeric
 * extremes, wrong types, nested lists, deep JSON) and hostile document shapes (truncated,
 * unbalanced, nested fragments, alias floods, deep nesting, huge comments, many operations,
 * conflicting aliases, unknown fields and directives). From a seed: the same seed sends the same
 * operations (in the same order per worker).
 *
 * Every answer must be data, or errors that all carry a code; a WebSocket may instead be closed
 * with a protocol code (4401, 1009, 1013, 4400). The compiled file is the child's entry point:
 * BRAMBLE_TEST_GRAPHQL_FUZZER=<json config> runs it and prints one JSON report line.
 */
import { runReportChild } from './report-child';
import { Rng } from './rng';
import {
  buildClientSchema,
  getIntrospectionQuery,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const CHILD_ENV = 'BRAMBLE_TEST_GRAPHQL_FUZZER';

export interface FuzzConfig {
  url: string;
  token: string;
  seed: number;
  durationMs: number;
  workers: number;
}

export interface FuzzReport {
  seed: number;
  operations: number;
  /** Answers that were neither data nor coded errors (at most 20 kept), and their count. */
  failures: string[];
  failureCount: number;
  /** Answers that took over 20 s (as the fuzzer measures them, itself busy building megabytes): a hang. */
  slow: string[];
  /** The five slowest answers. */
  slowest: Array<{ ms: number; what: string }>;
  /** Coded INTERNAL answers (the code is there, but each is a bug somewhere): at most 10 kept. */
  internals: string[];
  internalCount: number;
  byShape: Record<string, number>;
  maxMs: number;
  /** Total answer time by kind of operation (where the time goes). */
  msByShape: Record<string, number>;
}

const HOSTILE_STRINGS = [
  '',
  ' ',
  'x',
  'dc:a6:32:00:00:01',
  'DC-A6-32-00-00-02',
  '00:00:00:00:00:00',
  'ff:ff:ff:ff:ff:ff',
  '01:00:5e:00:00:01',
  'alice',
  'pupils',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  '../../../etc/passwd',
  '/',
  '/proc/self/root',
  '/tmp/../',
  "'; DROP TABLE events; --",
  '${jndi:ldap://x/a}',
  '%s%s%n',
  '\u0000',
  '\ud800',
  '\udfff',
  '\u202eevil',
  'zero\u200bwidth',
  'Ω≈ç√∫',
  '💥🎉👩‍👩‍👧',
  '\n\r\t',
  '2026-01-01T00:00:00Z',
  'not a time',
  '1e308',
  '-1',
  'true',
  'null',
  '{"a":1}',
  '[]',
  'username,password\nfuzz,Fuzz-Pass-1234\n',
  'mac,name\ndc:a6:32:00:00:07,fuzz\n',
];
const HOSTILE_INTS = [0, 1, -1, 2, 100, 1000, 1001, 2147483647, -2147483648];
const HOSTILE_FLOATS = [0, -0, 0.5, 1, -1, 1e308, -1e308, 5e-324, 9007199254740991, 2 ** 53 + 2, 1.5];

interface Operation {
  query: string;
  variables: Record<string, unknown>;
  operationName?: string;
  transport: 'post' | 'get' | 'ws';
  anonymous: boolean;
  kind: string;
}

/** A value in GraphQL literal syntax, or undefined when it cannot be written as one. */
function literal(value: unknown, type: GraphQLInputType): string | undefined {
  if (value === null) return 'null';
  const named = getNamedType(type);
  if (Array.isArray(value)) {
    const items = value.map((v) =>
      literal(v, isListType(isNonNullType(type) ? type.ofType : type) ? (isNonNullType(type) ? type.ofType : type) : type),
    );
    return items.every((i) => i !== undefined) ? `[${items.join(', ')}]` : undefined;
  }
  if (typeof value === 'string') return isEnumType(named) && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (!/^[_A-Za-z][_0-9A-Za-z]*$/.test(k)) return undefined;
      const fieldType = isInputObjectType(named) ? named.getFields()[k]?.type : undefined;
      const l = literal(v, fieldType ?? named);
      if (l === undefined) return undefined;
      parts.push(`${k}: ${l}`);
    }
    return `{${parts.join(', ')}}`;
  }
  return undefined;
}

function typeString(type: GraphQLInputType): string {
  return String(type);
}

export class Fuzzer {
  /** Characters of long strings left for the operation being built (a few megabytes at most). */
  private budget = 0;

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly r: Rng,
  ) {}

  private value(type: GraphQLInputType, depth = 0): unknown {
    const r = this.r;
    if (isNonNullType(type)) return r.chance(0.05) ? null : this.value(type.ofType, depth);
    if (r.chance(0.1)) return null;
    if (isListType(type)) {
      if (r.chance(0.05)) return this.value(type.ofType, depth + 1); // a single value for a list
      const n = r.pick([0, 1, 2, 3, 5, 101, 1000, 20_000]);
      if (n > 200) return Array.from({ length: n }, (_, i) => (r.chance(0.5) ? `T${i}` : i));
      return Array.from({ length: n }, () =>
        r.chance(0.05) && depth < 40 ? [this.value(type.ofType, depth + 1)] : this.value(type.ofType, depth + 1),
      );
    }
    if (isEnumType(type)) return r.chance(0.8) ? r.pick(type.getValues()).name : r.pick(['NOPE', 'approved', '', '__proto__']);
    if (isInputObjectType(type)) {
      const out: Record<string, unknown> = {};
      for (const [name, field] of Object.entries(type.getFields())) {
        if (isNonNullType(field.type) ? r.chance(0.9) : r.chance(0.5)) out[name] = depth > 6 ? null : this.value(field.type, depth + 1);
      }
      if (r.chance(0.1)) out[r.pick(['zzz', '__proto__', 'constructor'])] = 1;
      return out;
    }
    if (isScalarType(type)) {
      switch (type.name) {
        case 'Int':
          return r.chance(0.9) ? r.pick(HOSTILE_INTS) : r.pick([1.5, 2 ** 53, 1e308, 'seven', true]);
        case 'Float':
          return r.chance(0.9) ? r.pick(HOSTILE_FLOATS) : r.pick(['1', false]);
        case 'Boolean':
          return r.chance(0.9) ? r.chance(0.5) : r.pick(['true', 0]);
        case 'String':
        case 'ID':
          return r.chance(0.9) ? this.string(depth) : r.pick([42, 1e308, false, { a: 1 }, ['x']]);
        default:
          return this.json(depth);
      }
    }
    return null;
  }

  /** Long strings only near the top (a list of a hundred megabyte strings is not the point). */
  private string(depth = 0): string {
    const r = this.r;
    const roll = r.next();
    if (roll < 0.75 || depth > 2) return r.pick(HOSTILE_STRINGS);
    if (roll < 0.85) return Array.from({ length: r.int(40) + 1 }, () => String.fromCharCode(32 + r.int(0x2fff))).join('');
    const length = roll < 0.97 || depth > 0 ? r.pick([300, 5000, 70_000]) : r.pick([1 << 20, 3 << 20]);
    if (length > this.budget) return r.pick(HOSTILE_STRINGS);
    this.budget -= length;
    return r.pick(['a', '💥', 'é', 'x']).repeat(length);
  }

  private json(depth: number): unknown {
    const r = this.r;
    const roll = r.next();
    if (roll < 0.3) return this.string(depth + 1);
    if (roll < 0.4) return r.pick(HOSTILE_FLOATS);
    if (roll < 0.5) {
      // Deep nesting, over the variables' limit now and then.
      let v: unknown = 'leaf';
      for (let i = 0, n = r.pick([3, 20, 40, 200]); i < n; i++) v = r.chance(0.5) ? [v] : { k: v };
      return v;
    }
    if (depth > 4) return null;
    return Object.fromEntries(
      Array.from({ length: r.int(4) }, () => [r.pick(['a', 'b', '__proto__', 'constructor', 'x y', '']), this.json(depth + 1)]),
    );
  }

  /** Arguments of a field: literals inline, large or odd values as variables. */
  private args(field: GraphQLField<unknown, unknown>, vars: Map<string, { type: GraphQLInputType; value: unknown }>): string {
    const r = this.r;
    const parts: string[] = [];
    const args = [...field.args];
    if (r.chance(0.05)) args.push({ name: 'nope', type: this.schema.getType('String') } as GraphQLArgument);
    for (const arg of args) {
      if (!isNonNullType(arg.type) && r.chance(0.5)) continue;
      if (isNonNullType(arg.type) && r.chance(0.03)) continue; // a required argument missing
      const value = this.value(arg.type);
      const inline = JSON.stringify(value ?? null).length < 300 && r.chance(0.6) ? literal(value, arg.type) : undefined;
      if (inline !== undefined) parts.push(`${arg.name}: ${inline}`);
      else {
        const name = `v${vars.size}`;
        // Now and then the variable's declared type is not the argument's.
        const declared = r.chance(0.05) ? (this.schema.getType('String') as GraphQLInputType) : arg.type;
        vars.set(name, { type: declared, value: r.chance(0.05) ? this.value(declared) : value });
        parts.push(`${arg.name}: $${name}`);
      }
    }
    return parts.length ? `(${parts.join(', ')})` : '';
  }

  private selection(
    type: GraphQLOutputType,
    depth: number,
    maxDepth: number,
    vars: Map<string, { type: GraphQLInputType; value: unknown }>,
    fragments: string[],
  ): string {
    const r = this.r;
    const named = getNamedType(type);
    if (isUnionType(named))
      return `{ __typename ${named
        .getTypes()
        .map((t) => `... on ${t.name} ${this.selection(t, depth, maxDepth, vars, fragments)}`)
        .join(' ')} }`;
    if (!isObjectType(named) && !isInterfaceType(named)) return '';
    const fields = Object.values(named.getFields());
    const picks: string[] = [];
    const count = r.chance(0.02) ? 200 + r.int(800) : 1 + r.int(Math.min(6, fields.length));
    for (let i = 0; i < count; i++) {
      const field = r.pick(fields);
      const fieldNamed = getNamedType(field.type);
      const composite = isObjectType(fieldNamed) || isInterfaceType(fieldNamed) || isUnionType(fieldNamed);
      let sub = '';
      if (composite) {
        if (depth >= maxDepth) {
          if (r.chance(0.9)) continue;
        } else if (r.chance(0.97)) sub = ` ${this.selection(field.type, depth + 1, maxDepth, vars, fragments)}`;
      } else if (r.chance(0.02)) sub = ' { nope }';
      const alias = r.chance(0.15) ? `${r.pick(['a', 'b', field.name])}: ` : count > 100 ? `a${i}: ` : '';
      const directive = r.chance(0.05)
        ? ` @${r.pick(['skip', 'include', 'deprecated', 'nope'])}(if: ${r.pick(['true', 'false', '1', '$nope'])})`
        : '';
      picks.push(`${alias}${field.name}${this.args(field, vars)}${directive}${sub}`);
    }
    if (r.chance(0.1)) picks.push('__typename');
    if (r.chance(0.05)) picks.push('nope');
    if (r.chance(0.05) && fragments.length < 5) {
      const name = `F${fragments.length}`;
      fragments.push(`fragment ${name} on ${named.name} ${this.selection(named, depth, maxDepth, vars, fragments)}`);
      picks.push(`...${name}`);
    }
    if (r.chance(0.03)) picks.push(`... on ${named.name} { __typename }`);
    return `{ ${picks.join(' ') || '__typename'} }`;
  }

  /** One random operation, possibly mangled. */
  operation(): Operation {
    const r = this.r;
    this.budget = 4 << 20;
    const roots = [
      ['query', this.schema.getQueryType()],
      ['mutation', this.schema.getMutationType()],
      ['subscription', this.schema.getSubscriptionType()],
    ] as const;
    const [kind, root] = r.chance(0.65) ? roots[0] : r.chance(0.75) ? roots[1] : roots[2];
    const vars = new Map<string, { type: GraphQLInputType; value: unknown }>();
    const fragments: string[] = [];
    const body = this.selection(root!, 1, r.pick([2, 3, 4, 6, 9, 12]), vars, fragments);
    const declarations = [...vars.entries()].map(([name, v]) => `$${name}: ${typeString(v.type)}`);
    let query = `${kind} Fuzz${declarations.length ? `(${declarations.join(', ')})` : ''} ${body} ${fragments.join(' ')}`;
    const variables = Object.fromEntries([...vars.entries()].map(([name, v]) => [name, v.value]));
    let shape: string = kind;
    const roll = r.next();
    if (roll < 0.03) {
      query = query.slice(0, r.int(query.length));
      shape = 'truncated';
    } else if (roll < 0.05) {
      query = `${query}${r.pick(['}', '{', '(', ')', '"', '$', '...', '@'])}`;
      shape = 'unbalanced';
    } else if (roll < 0.07) {
      const n = 10 + r.int(30);
      query = `{ ...G0 }${Array.from({ length: n }, (_, i) => ` fragment G${i} on Query { ...G${i + 1} ... on Query { ...G${i + 1} } }`).join('')} fragment G${n} on Query { health { status } }`;
      shape = 'nested-fragments';
    } else if (roll < 0.09) {
      query = `{ ${Array.from({ length: r.pick([100, 1000, 30_000]) }, (_, i) => `a${i}: ${r.pick(['health { status }', 'stateAt(position: 1) { position }', 'events(first: 1000) { events { type } }', '__typename'])}`).join(' ')} }`;
      shape = 'alias-flood';
    } else if (roll < 0.1) {
      const n = r.pick([10, 40, 1500]);
      query = `{ ${'clients { image { '.repeat(n)} id ${'} } '.repeat(n)} }`;
      shape = 'deep';
    } else if (roll < 0.11) {
      query = `${query} # ${'x'.repeat(70_000)}`;
      shape = 'huge-comment';
    } else if (roll < 0.12) {
      query = Array.from({ length: r.pick([2, 25]) }, (_, i) => query.replace(' Fuzz', ` Fuzz${r.chance(0.5) ? i : ''}`)).join('\n');
      shape = 'many-operations';
    } else if (roll < 0.13) {
      query = `{ a: clients(status: APPROVED) { mac } a: clients(status: PENDING) { mac } b: health { status } b: health { uptimeSeconds } }`;
      shape = 'conflicting-aliases';
    }
    const transport = shape === 'subscription' ? (r.chance(0.8) ? 'ws' : 'post') : r.chance(0.1) ? 'ws' : r.chance(0.06) ? 'get' : 'post';
    return {
      query,
      variables,
      operationName: r.chance(0.9) ? (shape === 'many-operations' ? 'Fuzz0' : 'Fuzz') : undefined,
      transport,
      anonymous: r.chance(0.12),
      kind: shape,
    };
  }
}

interface Answer {
  ok: boolean;
  detail: string;
  ms: number;
  internal: boolean;
}

function codedAnswer(body: unknown): { ok: boolean; internal: boolean } {
  const b = body as { data?: unknown; errors?: Array<{ extensions?: { code?: unknown } }> } | null;
  if (!b || typeof b !== 'object') return { ok: false, internal: false };
  if (b.errors !== undefined) {
    if (!Array.isArray(b.errors) || b.errors.length === 0) return { ok: false, internal: false };
    const ok = b.errors.every((e) => typeof e?.extensions?.code === 'string' && e.extensions.code.length > 0);
    return { ok, internal: b.errors.some((e) => e?.extensions?.code === 'INTERNAL') };
  }
  return { ok: 'data' in b, internal: false };
}

/** Runs the fuzz against a running bramble (in this process: the child's). */
export async function runFuzz(config: FuzzConfig): Promise<FuzzReport> {
  const token = config.token;
  const introspection = await fetch(`${config.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: getIntrospectionQuery() }),
  });
  const schema = buildClientSchema(((await introspection.json()) as { data: IntrospectionQuery }).data);
  const wsUrl = `${config.url.replace(/^http/, 'ws')}/graphql`;
  const report: FuzzReport = {
    seed: config.seed,
    operations: 0,
    failures: [],
    failureCount: 0,
    slow: [],
    internals: [],
    internalCount: 0,
    byShape: {},
    maxMs: 0,
    msByShape: {},
    slowest: [],
  };
  const deadline = performance.now() + config.durationMs;
  const h = { url: config.url, wsUrl, token };

  const send = async (op: Operation): Promise<Answer> => {
    const t0 = performance.now();
    const token = op.anonymous ? null : h.token;
    if (op.transport === 'ws') {
      const client = createClient({
        url: h.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
      });
      try {
        const result = await new Promise<{ ok: boolean; internal: boolean; detail: string }>((resolve) => {
          const timer = setTimeout(() => resolve({ ok: true, internal: false, detail: 'subscription open (no event)' }), 300);
          client.subscribe(
            { query: op.query, variables: op.variables, operationName: op.operationName },
            {
              next: (value) => {
                clearTimeout(timer);
                resolve({ ...codedAnswer(value), detail: JSON.stringify(value).slice(0, 300) });
              },
              error: (error) => {
                clearTimeout(timer);
                if (Array.isArray(error)) resolve({ ...codedAnswer({ errors: error }), detail: JSON.stringify(error).slice(0, 300) });
                else {
                  // A closed socket answers with a protocol code: 4401 (no token), 1009 (too big), 1013 (busy), 4400 (bad message).
                  const code = (error as { code?: number })?.code;
                  resolve({
                    ok: [4401, 1009, 1013, 4400, 4403].includes(code ?? 0),
                    internal: false,
                    detail: `closed ${code} ${(error as { reason?: string })?.reason ?? ''}`,
                  });
                }
              },
              complete: () => {
                clearTimeout(timer);
                resolve({ ok: true, internal: false, detail: 'completed' });
              },
            },
          );
        });
        return { ...result, ms: performance.now() - t0 };
      } finally {
        try {
          await client.dispose();
        } catch {
          // already closed by the server
        }
      }
    }
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    let res: Response;
    const params = new URLSearchParams({
      query: op.query,
      ...(op.operationName ? { operationName: op.operationName } : {}),
      variables: JSON.stringify(op.variables),
    });
    // A URL over Node's 16 KB header limit is cut off by the HTTP server itself: such a request goes by POST.
    if (op.transport === 'get' && params.toString().length < 8000) {
      res = await fetch(`${h.url}/graphql?${params}`, {
        headers: { ...headers, 'apollo-require-preflight': 'true' },
        signal: AbortSignal.timeout(30_000),
      });
    } else {
      res = await fetch(`${h.url}/graphql`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        // Bytes, not a string: undici checks a string body for lone surrogates character by character.
        body: Buffer.from(JSON.stringify({ query: op.query, variables: op.variables, operationName: op.operationName })),
        signal: AbortSignal.timeout(30_000),
      });
    }
    const text = await res.text();
    let verdict = { ok: false, internal: false };
    try {
      verdict = codedAnswer(JSON.parse(text));
    } catch {
      // not JSON: not ok
    }
    // A 5xx other than 503 (TOO_BUSY) is a failure whatever its body says.
    if (res.status >= 500 && res.status !== 503) verdict.ok = false;
    return { ...verdict, ms: performance.now() - t0, detail: `HTTP ${res.status} ${text.slice(0, 300)}` };
  };

  const worker = async (index: number): Promise<void> => {
    const fuzzer = new Fuzzer(schema, new Rng(config.seed + index * 0x9e3779b9));
    while (performance.now() < deadline) {
      const op = fuzzer.operation();
      const shape = `${op.kind}/${op.transport}${op.anonymous ? '/anonymous' : ''}`;
      report.byShape[shape] = (report.byShape[shape] ?? 0) + 1;
      let answer: Answer;
      try {
        answer = await send(op);
      } catch (error) {
        const cause = (error as Error & { cause?: { code?: string; message?: string } }).cause;
        const why = cause ? ` (${[cause.code, cause.message].filter(Boolean).join(': ')})` : '';
        answer = { ok: false, internal: false, ms: 0, detail: `request failed: ${(error as Error).message}${why}` };
      }
      report.operations++;
      report.maxMs = Math.max(report.maxMs, answer.ms);
      report.msByShape[shape] = Math.round((report.msByShape[shape] ?? 0) + answer.ms);
      const what = (): string => {
        let variables: string;
        try {
          variables = JSON.stringify(op.variables, (_k, v: unknown) =>
            typeof v === 'string' && v.length > 100 ? `<${v.length} characters>` : v,
          ).slice(0, 300);
        } catch {
          variables = '<too large to print>';
        }
        return `[worker ${index}] ${op.kind} over ${op.transport}${op.anonymous ? ' without a token' : ''}: ${op.query.slice(0, 400)} variables ${variables} -> ${answer.detail}`;
      };
      if (!answer.ok) {
        report.failureCount++;
        if (report.failures.length < 20) report.failures.push(what());
      }
      if (answer.ms > 20_000 && report.slow.length < 20) report.slow.push(`${answer.ms.toFixed(0)} ms: ${what()}`);
      if (report.slowest.length < 5 || answer.ms > report.slowest[report.slowest.length - 1].ms) {
        report.slowest.push({ ms: Math.round(answer.ms), what: what().slice(0, 400) });
        report.slowest.sort((a, b) => b.ms - a.ms).splice(5);
      }
      if (answer.internal) {
        report.internalCount++;
        if (report.internals.length < 10) report.internals.push(what());
      }
    }
  };
  await Promise.all(Array.from({ length: config.workers }, (_, i) => worker(i)));
  return report;
}

/** Runs the fuzz in a child node process (at a lower CPU priority, as an attacker's would be; killed with this one). */
export function fuzzInChild(config: FuzzConfig): Promise<FuzzReport> {
  return runReportChild<FuzzReport>({
    file: __filename,
    env: { [CHILD_ENV]: JSON.stringify(config) },
    timeoutMs: config.durationMs + 60_000,
    nice: 10,
    what: 'fuzz',
  });
}

if (require.main === module && process.env[CHILD_ENV]) {
  const config = JSON.parse(process.env[CHILD_ENV]) as FuzzConfig;
  setTimeout(() => process.exit(3), config.durationMs + 50_000).unref();
  runFuzz(config).then(
    (report) => process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0)),
    (error: Error) => {
      process.stderr.write(`${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}
