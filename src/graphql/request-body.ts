/**
 * The body of a GraphQL HTTP request: read as bytes up to a limit that depends on the token (16 MB
 * with one, for class lists; 64 KB without, when only `health` may be asked for), then decoded,
 * parsed as JSON and checked: the query document at most 64 KB, the variables at most 10,000
 * values nested at most 32 deep. A body over 64 KB is decoded, parsed and checked in a worker
 * thread (BodyParserPool), so that megabytes of hostile JSON never hold the event loop: only a
 * body that passes comes back (a class list's CSV string is copied back, not parsed again).
 */
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { isPlainObject } from '../core/domain/shared/json';

export const BODY_LIMITS = {
  /** Bytes of a request body with a valid token (a class list of thousands travels in one). */
  withToken: 16 * 1024 * 1024,
  /** Bytes of a request body without one. */
  withoutToken: 64 * 1024,
  /** Bodies up to this size are parsed on the event loop; larger ones in the worker. */
  inlineParse: 64 * 1024,
  /** Bytes (UTF-8) of the query document. */
  maxDocumentBytes: 64 * 1024,
  /** JSON values (strings, numbers, lists, objects...) in all variables together. */
  maxVariableValues: 10_000,
  /** Lists and objects nested inside each other in a variable. */
  maxVariableDepth: 32,
  /** Bodies waiting for (or in) the worker; one more is refused (TOO_BUSY). */
  maxPendingInWorker: 16,
} as const;

export type BodyLimits = typeof BODY_LIMITS;

/** A request the body step answers itself: its code, message and HTTP status. */
export interface BodyRefusal {
  code: string;
  message: string;
  status: number;
}

/** A variable over the limits: reported once the document says which argument it feeds. */
export interface VariableProblem {
  variable: string;
  message: string;
}

export type BodyOutcome =
  | { kind: 'body'; body: unknown }
  | { kind: 'refused'; refusal: BodyRefusal }
  | { kind: 'variables'; problem: VariableProblem; query: unknown; operationName: unknown };

/** The first variable that takes the variables over their limits, or null. Iterative (no recursion). */
export function checkVariables(
  variables: Record<string, unknown>,
  limits: Pick<BodyLimits, 'maxVariableValues' | 'maxVariableDepth'> = BODY_LIMITS,
): VariableProblem | null {
  let count = 0;
  for (const [name, value] of Object.entries(variables)) {
    const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
    while (stack.length > 0) {
      const { value: v, depth } = stack.pop()!;
      if (++count > limits.maxVariableValues) {
        return { variable: name, message: `the variables hold more than ${limits.maxVariableValues} values` };
      }
      if (v === null || typeof v !== 'object') continue;
      if (depth >= limits.maxVariableDepth)
        return { variable: name, message: `lists and objects nest more than ${limits.maxVariableDepth} deep` };
      for (const item of Array.isArray(v) ? v : Object.values(v)) stack.push({ value: item, depth: depth + 1 });
    }
  }
  return null;
}

/** QUERY_TOO_LARGE when the query document is over `maxBytes` (UTF-8), else null. */
export function documentTooLarge(query: string, maxBytes: number): BodyRefusal | null {
  // A UTF-8 byte is at most one UTF-16 unit, so only a long enough string needs counting.
  if (query.length <= maxBytes / 3) return null;
  const bytes = Buffer.byteLength(query, 'utf8');
  if (bytes <= maxBytes) return null;
  return { code: 'QUERY_TOO_LARGE', message: `the query document is ${bytes} bytes; the limit is ${maxBytes}`, status: 413 };
}

/** Decodes, parses and checks a JSON body (on the event loop for small ones, in the worker for others). */
export function inspectBody(bytes: Uint8Array, limits: BodyLimits = BODY_LIMITS): BodyOutcome {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8').decode(bytes));
  } catch {
    return { kind: 'refused', refusal: { code: 'BAD_REQUEST', message: 'the request body is not valid JSON', status: 400 } };
  }
  if (Array.isArray(body)) {
    return {
      kind: 'refused',
      refusal: { code: 'BAD_REQUEST', message: 'batched requests are not accepted: send one operation per request', status: 400 },
    };
  }
  if (typeof body !== 'object' || body === null) return { kind: 'body', body };
  const { query, variables, operationName } = body as { query?: unknown; variables?: unknown; operationName?: unknown };
  const tooLarge = typeof query === 'string' ? documentTooLarge(query, limits.maxDocumentBytes) : null;
  if (tooLarge) return { kind: 'refused', refusal: tooLarge };
  if (isPlainObject(variables)) {
    const problem = checkVariables(variables, limits);
    if (problem) return { kind: 'variables', problem, query, operationName };
  }
  return { kind: 'body', body };
}

/**
 * Reads the request's body as bytes, refusing it (without reading it) when its Content-Length is
 * over `limit`, and as soon as it grows past `limit` otherwise. Compressed bodies are refused.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | BodyRefusal> {
  const tooLarge: BodyRefusal = { code: 'QUERY_TOO_LARGE', message: `the request body is over ${limit} bytes`, status: 413 };
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity')
    return Promise.resolve({ code: 'BAD_REQUEST', message: 'compressed request bodies are not accepted', status: 415 });
  const declared = req.headers['content-length'];
  // Not read at all: Node discards it once the answer is sent.
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        // The rest is not wanted: let it flow away unread.
        req.resume();
        resolve(tooLarge);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
    };
    const onAborted = (): void => onError(new Error('request aborted'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

interface Pending {
  resolve(outcome: BodyOutcome): void;
  reject(error: Error): void;
}

const WORKER_SCRIPT = path.join(__dirname, 'request-body.worker.js');

/** One worker thread that parses large bodies, started on first use, stopped by close(). */
export class BodyParserPool {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(private readonly limits: BodyLimits = BODY_LIMITS) {}

  /** Bodies in the worker now. */
  get busy(): number {
    return this.pending.size;
  }

  /** The body's outcome, or a TOO_BUSY refusal when too many bodies are in the worker already. */
  inspect(bytes: Buffer): Promise<BodyOutcome> {
    if (this.pending.size >= this.limits.maxPendingInWorker) {
      return Promise.resolve({
        kind: 'refused',
        refusal: { code: 'TOO_BUSY', message: 'too many large requests are being read; retry later', status: 503 },
      });
    }
    const worker = this.start();
    const id = this.nextId++;
    // Handed over, not copied, when the bytes fill their own buffer (as Buffer.concat's do).
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const data = own ? bytes : Buffer.from(bytes);
    return new Promise<BodyOutcome>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ id, bytes: data }, [data.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.failAll(new Error('the request body worker stopped'));
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SCRIPT, { workerData: { limits: this.limits } });
    worker.on('message', (m: { id: number; outcome: BodyOutcome }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      p?.resolve(m.outcome);
    });
    const stopped = (error: Error): void => {
      if (this.worker === worker) this.worker = null;
      this.failAll(error);
    };
    worker.on('error', (error) => stopped(error));
    worker.on('exit', (code) => stopped(new Error(`the request body worker exited (${code})`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private failAll(error: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(error);
  }
}
