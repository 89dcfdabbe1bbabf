/**
 * Hostile GraphQL clients and a /health poller, each in a process of its own (so that their work
 * never runs on bramble's event loop, which is what is being measured), for the hostile-load test
 * and benchmark:
 *
 *   const report = await runInChild({ mode: 'hostile', url, token, clients: 20, durationMs: 10_000 });
 *   const health = await runInChild({ mode: 'health', url, durationMs: 10_000, intervalMs: 25 });
 *
 * The hostile clients cycle through HOSTILE_SHAPES, one class of attack each (nested fragments,
 * alias floods, huge pages, huge documents, deep nesting, big variables, field repetition, bad
 * values, costly operations at the edge of their limits), over HTTP and graphql-ws, with and
 * without a token. Every answer is recorded: its HTTP status, its first error code (or DATA), and
 * how long it took. The compiled file is the child's entry point: BRAMBLE_TEST_HOSTILE=<json
 * config> makes it run that config and print one JSON report line.
 */
import { runReportChild } from './report-child';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const CHILD_ENV = 'BRAMBLE_TEST_HOSTILE';

export interface HostileConfig {
  mode: 'hostile';
  url: string;
  token: string;
  clients: number;
  durationMs: number;
  /** Only these shapes (by name); all by default. */
  shapes?: string[];
}

export interface HealthConfig {
  mode: 'health';
  url: string;
  durationMs: number;
  intervalMs: number;
}

export interface ShapeReport {
  count: number;
  /** First error code of each answer (DATA for an answer with data and no error), counted. */
  codes: Record<string, number>;
  maxMs: number;
  p99Ms: number;
}

export interface HostileReport {
  requests: number;
  byShape: Record<string, ShapeReport>;
  /** Answers without a code on every error (or not JSON, or a network failure): at most 10 kept. */
  uncoded: Array<{ shape: string; status: number; text: string }>;
  uncodedCount: number;
  /** Answers whose code was not one the shape expects: at most 10 kept. */
  unexpected: Array<{ shape: string; code: string; text: string }>;
  unexpectedCount: number;
  /** Answers to requests that must be refused (every shape but the admitted ones) that took a second or more. */
  slowCount: number;
  /** Answer times of the requests that must be refused. */
  answerMs: { p50: number; p99: number; max: number };
  /** Answer times of the admitted ones (a page of 1000 events, a replay): they run, as long as it takes. */
  admittedMs: { p50: number; p99: number; max: number };
}

export interface HealthReport {
  polls: number;
  failures: number;
  ms: { p50: number; p99: number; max: number };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))];
}

/** `fragment Fi { ...Fi+1 ... on Query { ...Fi+1 } }`: 2^n paths in a kilobyte or two. */
export function nestedFragments(n: number): string {
  let q = '{ ...F0 }';
  for (let i = 0; i < n; i++) q += `\nfragment F${i} on Query { ...F${i + 1} ... on Query { ...F${i + 1} } }`;
  return `${q}\nfragment F${n} on Query { health { status } }`;
}

export function aliases(n: number, field: string): string {
  return `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
}

interface Shape {
  name: string;
  /** The class of attack it stands for. */
  kind: string;
  transport: 'http' | 'ws';
  anonymous?: boolean;
  /** Built once per client. */
  build(): { query: string; variables?: Record<string, unknown> };
  /** Codes an answer may carry (DATA: an answer with data). */
  expect: string[];
}

/** Every class of hostile request, at its worst. */
export const HOSTILE_SHAPES: Shape[] = [
  {
    name: 'nested-fragments-anonymous',
    kind: 'nested fragments',
    transport: 'http',
    anonymous: true,
    build: () => ({ query: nestedFragments(24) }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'nested-fragments',
    kind: 'nested fragments',
    transport: 'http',
    build: () => ({ query: nestedFragments(24) }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'nested-fragments-ws',
    kind: 'nested fragments',
    transport: 'ws',
    build: () => ({ query: nestedFragments(24) }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  // 300,000 aliases: 7 MB, refused on the body size without a token, on the document size with one.
  {
    name: 'health-aliases-300k-anonymous',
    kind: 'alias flood',
    transport: 'http',
    anonymous: true,
    build: () => ({ query: aliases(300_000, 'health { status }') }),
    expect: ['QUERY_TOO_LARGE'],
  },
  {
    name: 'health-aliases-300k',
    kind: 'alias flood',
    transport: 'http',
    build: () => ({ query: aliases(300_000, 'health { status }') }),
    expect: ['QUERY_TOO_LARGE'],
  },
  // 800 aliases: under the token limit, over the cost limit.
  {
    name: 'health-aliases-800',
    kind: 'alias flood',
    transport: 'http',
    build: () => ({ query: aliases(800, 'health { status }') }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'health-aliases-50-anonymous',
    kind: 'alias flood',
    transport: 'http',
    anonymous: true,
    build: () => ({ query: aliases(50, 'health { status }') }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'stateAt-aliases-1000',
    kind: 'alias flood',
    transport: 'http',
    build: () => ({ query: aliases(1000, 'stateAt(position: 1) { position clients { mac } }') }),
    expect: ['QUERY_TOO_LARGE'],
  },
  {
    name: 'stateAt-aliases-300',
    kind: 'alias flood',
    transport: 'http',
    build: () => ({ query: aliases(300, 'stateAt(position: 1) { position }') }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'stateAt-aliases-2-ws',
    kind: 'alias flood',
    transport: 'ws',
    build: () => ({ query: aliases(2, 'stateAt(position: 1) { position }') }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'events-1000x1000',
    kind: 'big pages',
    transport: 'http',
    build: () => ({ query: aliases(1000, 'events(first: 1000) { events { type data } }') }),
    expect: ['QUERY_TOO_LARGE'],
  },
  {
    name: 'events-3x1000',
    kind: 'big pages',
    transport: 'http',
    build: () => ({ query: aliases(3, 'events(first: 1000) { events { id stream type data metadata { actor timestamp } } }') }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'huge-document',
    kind: 'huge documents',
    transport: 'http',
    build: () => ({ query: `{ health { status } } # ${'x'.repeat(200_000)}` }),
    expect: ['QUERY_TOO_LARGE'],
  },
  {
    name: 'many-tokens',
    kind: 'huge documents',
    transport: 'http',
    build: () => ({ query: `{ health { ${'status '.repeat(6000)} } }` }),
    expect: ['QUERY_TOO_LARGE'],
  },
  {
    name: 'huge-document-ws',
    kind: 'huge documents',
    transport: 'ws',
    build: () => ({ query: `{ health { status } } # ${'x'.repeat(200_000)}` }),
    expect: ['QUERY_TOO_LARGE'],
  },
  {
    name: 'deep-fields',
    kind: 'deep nesting',
    transport: 'http',
    build: () => ({ query: `{ ${'clients { image { '.repeat(10)} id ${'} } '.repeat(10)} }` }),
    expect: ['DEPTH_LIMIT'],
  },
  {
    name: 'deep-introspection',
    kind: 'deep nesting',
    transport: 'http',
    build: () => ({ query: `{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }` }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'deep-list-value',
    kind: 'deep nesting',
    transport: 'http',
    build: () => ({ query: `{ events(filter: { types: ${'['.repeat(2400)}${']'.repeat(2400)} }) { endCursor } }` }),
    expect: ['GRAPHQL_VALIDATION_FAILED', 'QUERY_TOO_LARGE'],
  },
  {
    name: 'repeated-fields',
    kind: 'field repetition',
    transport: 'http',
    build: () => ({ query: `{ ${'clients { mac name } '.repeat(400)} }` }),
    expect: ['QUERY_TOO_COMPLEX'],
  },
  {
    name: 'big-variable-prefix',
    kind: 'big variables',
    transport: 'http',
    build: () => ({
      query: 'query ($p: String) { events(filter: { streamPrefix: $p }) { endCursor } }',
      variables: { p: 'x'.repeat(4 << 20) },
    }),
    expect: ['VALIDATION'],
  },
  {
    name: 'big-variable-types',
    kind: 'big variables',
    transport: 'http',
    build: () => ({
      query: 'query ($t: [String!]) { events(filter: { types: $t }) { endCursor } }',
      variables: { t: Array.from({ length: 100_000 }, (_, i) => `T${i}`) },
    }),
    expect: ['VALIDATION'],
  },
  {
    name: 'after-1e308',
    kind: 'bad values',
    transport: 'http',
    build: () => ({ query: '{ events(after: 1e308) { endCursor } }' }),
    expect: ['VALIDATION'],
  },
  {
    name: 'stateAt-anonymous',
    kind: 'no token',
    transport: 'http',
    anonymous: true,
    build: () => ({ query: '{ stateAt(position: 1) { position } }' }),
    expect: ['UNAUTHENTICATED'],
  },
  // At the edge of the limits: admitted, and costly (a page of 1000 events; a replay).
  {
    name: 'events-page-1000',
    kind: 'admitted, costly',
    transport: 'http',
    build: () => ({
      query: '{ events(first: 1000) { events { id stream revision position type data metadata { actor timestamp } } endCursor } }',
    }),
    expect: ['DATA'],
  },
  {
    name: 'stateAt-now',
    kind: 'admitted, costly',
    transport: 'http',
    build: () => ({ query: '{ stateAt(time: "2100-01-01T00:00:00Z") { position events clients { mac status } } }' }),
    expect: ['DATA', 'TOO_BUSY'],
  },
];

interface Answer {
  status: number;
  code: string;
  coded: boolean;
  text: string;
}

function firstCode(body: unknown): { code: string; coded: boolean } {
  const b = body as { data?: unknown; errors?: Array<{ extensions?: { code?: unknown } }> } | null;
  if (!b || typeof b !== 'object') return { code: 'NOT_GRAPHQL', coded: false };
  if (Array.isArray(b.errors) && b.errors.length > 0) {
    const coded = b.errors.every((e) => typeof e?.extensions?.code === 'string');
    return { code: String(b.errors[0]?.extensions?.code ?? 'NO_CODE'), coded };
  }
  return 'data' in b && b.data !== undefined ? { code: 'DATA', coded: true } : { code: 'NO_CODE', coded: false };
}

async function httpAnswer(url: string, body: string, token: string | null): Promise<Answer> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, ...firstCode(JSON.parse(text)), text: text.slice(0, 300) };
  } catch {
    return { status: res.status, code: 'NOT_JSON', coded: false, text: text.slice(0, 300) };
  }
}

function wsAnswer(url: string, token: string, request: { query: string; variables?: Record<string, unknown> }): Promise<Answer> {
  return new Promise((resolve) => {
    const client = createClient({
      url: `${url.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { Authorization: `Bearer ${token}` },
    });
    let settled = false;
    const done = (answer: Answer): void => {
      if (settled) return;
      settled = true;
      void client.dispose();
      resolve(answer);
    };
    client.subscribe(request, {
      next: (value) => done({ status: 200, ...firstCode(value), text: JSON.stringify(value).slice(0, 300) }),
      error: (error) => {
        if (Array.isArray(error)) done({ status: 200, ...firstCode({ errors: error }), text: JSON.stringify(error).slice(0, 300) });
        else done({ status: 0, code: 'WS_CLOSED', coded: false, text: String((error as { reason?: string })?.reason ?? error) });
      },
      complete: () => done({ status: 200, code: 'NO_ANSWER', coded: false, text: 'completed without an answer' }),
    });
  });
}

export async function runHostileClients(config: HostileConfig): Promise<HostileReport> {
  const shapes = HOSTILE_SHAPES.filter((s) => !config.shapes || config.shapes.includes(s.name));
  // Bodies are built once (a 7 MB body is not rebuilt per request).
  const bodies = new Map(shapes.map((s) => [s.name, s.build()] as const));
  const texts = new Map(shapes.map((s) => [s.name, JSON.stringify(bodies.get(s.name))] as const));
  const times = new Map<string, number[]>(shapes.map((s) => [s.name, []]));
  const codes = new Map<string, Record<string, number>>(shapes.map((s) => [s.name, {}]));
  const report: HostileReport = {
    requests: 0,
    byShape: {},
    uncoded: [],
    uncodedCount: 0,
    unexpected: [],
    unexpectedCount: 0,
    slowCount: 0,
    answerMs: { p50: 0, p99: 0, max: 0 },
    admittedMs: { p50: 0, p99: 0, max: 0 },
  };
  const refused: number[] = [];
  const admitted: number[] = [];
  const deadline = performance.now() + config.durationMs;
  const client = async (index: number): Promise<void> => {
    for (let i = index; performance.now() < deadline; i++) {
      const shape = shapes[i % shapes.length];
      const t0 = performance.now();
      let answer: Answer;
      try {
        answer =
          shape.transport === 'ws'
            ? await wsAnswer(config.url, config.token, bodies.get(shape.name)!)
            : await httpAnswer(config.url, texts.get(shape.name)!, shape.anonymous ? null : config.token);
      } catch (error) {
        answer = { status: 0, code: 'NETWORK', coded: false, text: String((error as Error)?.message ?? error) };
      }
      const ms = performance.now() - t0;
      report.requests++;
      const isAdmitted = shape.expect.includes('DATA');
      (isAdmitted ? admitted : refused).push(ms);
      times.get(shape.name)!.push(ms);
      const c = codes.get(shape.name)!;
      c[answer.code] = (c[answer.code] ?? 0) + 1;
      if (ms >= 1000 && !isAdmitted) report.slowCount++;
      if (!answer.coded) {
        report.uncodedCount++;
        if (report.uncoded.length < 10) report.uncoded.push({ shape: shape.name, status: answer.status, text: answer.text });
      } else if (!shape.expect.includes(answer.code)) {
        report.unexpectedCount++;
        if (report.unexpected.length < 10) report.unexpected.push({ shape: shape.name, code: answer.code, text: answer.text });
      }
    }
  };
  await Promise.all(Array.from({ length: config.clients }, (_, i) => client(i)));
  for (const s of shapes) {
    const t = times.get(s.name)!;
    report.byShape[s.name] = {
      count: t.length,
      codes: codes.get(s.name)!,
      maxMs: t.length ? Math.max(...t) : 0,
      p99Ms: percentile(t, 0.99),
    };
  }
  const summary = (t: number[]) => ({ p50: percentile(t, 0.5), p99: percentile(t, 0.99), max: t.length ? Math.max(...t) : 0 });
  report.answerMs = summary(refused);
  report.admittedMs = summary(admitted);
  return report;
}

export async function pollHealth(config: HealthConfig): Promise<HealthReport> {
  const ms: number[] = [];
  let failures = 0;
  const deadline = performance.now() + config.durationMs;
  while (performance.now() < deadline) {
    const t0 = performance.now();
    try {
      const res = await fetch(`${config.url}/health`, { signal: AbortSignal.timeout(5000) });
      await res.text();
      if (res.status !== 200) failures++;
    } catch {
      failures++;
    }
    ms.push(performance.now() - t0);
    const wait = config.intervalMs - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return {
    polls: ms.length,
    failures,
    ms: { p50: percentile(ms, 0.5), p99: percentile(ms, 0.99), max: ms.length ? Math.max(...ms) : NaN },
  };
}

/** Runs a config in a child node process (killed with this one) and resolves with its report. */
export function runInChild(config: HostileConfig): Promise<HostileReport>;
export function runInChild(config: HealthConfig): Promise<HealthReport>;
export function runInChild(config: HostileConfig | HealthConfig): Promise<HostileReport | HealthReport> {
  return runReportChild<HostileReport | HealthReport>({
    file: __filename,
    env: { [CHILD_ENV]: JSON.stringify(config) },
    timeoutMs: config.durationMs + 60_000,
    // The attackers' CPU would be another machine's: they yield the CPU to bramble and to the
    // probes (the /health poller, perfdhcp), which measure bramble rather than the machine.
    nice: config.mode === 'hostile' ? 10 : 0,
    what: config.mode,
  });
}

if (require.main === module && process.env[CHILD_ENV]) {
  const config = JSON.parse(process.env[CHILD_ENV]) as HostileConfig | HealthConfig;
  // A last resort: never outlive the run for long.
  setTimeout(() => process.exit(3), config.durationMs + 50_000).unref();
  const run = config.mode === 'hostile' ? runHostileClients(config) : pollHealth(config);
  run.then(
    (report) => {
      process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0));
    },
    (error: Error) => {
      process.stderr.write(`${error.stack ?? error.message}\n`);
      process.exit(1);
    },
  );
}
