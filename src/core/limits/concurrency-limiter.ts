/**
 * Costly operations (a replay for `stateAt`, a rebuild of the read models, an audit export, a class
 * import) share the process and its event loop with DHCP and the rest of the API. Each kind runs at
 * most `concurrency` at once; a few more wait in a bounded queue; beyond that the caller gets
 * TOO_BUSY at once, rather than piling work up until the process runs out of memory.
 */
import { Injectable } from '@nestjs/common';

export const TOO_BUSY = 'TOO_BUSY';

/** Too many operations of one kind are running or waiting: retry later. */
export class TooBusyError extends Error {
  readonly code = TOO_BUSY;
  constructor(readonly kind: string) {
    super(`too many ${kind} operations are running; retry later`);
    this.name = 'TooBusyError';
  }
}

export interface LimiterOptions {
  /** Operations of this kind running at once. */
  concurrency: number;
  /** Operations waiting for a turn; one more is refused with TooBusyError. */
  queue: number;
}

export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly kind: string,
    private readonly options: LimiterOptions,
  ) {}

  /** Running now. */
  get running(): number {
    return this.active;
  }

  /** Waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `work` when a slot is free; throws TooBusyError (without running it) when the queue is full. */
  async run<T>(work: () => Promise<T> | T): Promise<T> {
    if (this.active >= this.options.concurrency) {
      if (this.waiting.length >= this.options.queue) throw new TooBusyError(this.kind);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; otherwise it is freed.
      if (next) next();
      else this.active--;
    }
  }
}

/** The limits of bramble's costly operations, shared by the GraphQL API and the HTTP endpoints. */
export const COSTLY_LIMITS = {
  /** `stateAt`: a replay of the log up to a point, into a fresh state. */
  stateAt: { concurrency: 2, queue: 4 },
  /** `rebuildProjections`: a replay of the whole log (the engine already runs one at a time). */
  rebuild: { concurrency: 1, queue: 1 },
  /** `importUsers` / `importClients`: one class list at a time (password hashing is costly). */
  import: { concurrency: 1, queue: 2 },
  /** `/audit/export.ndjson`: a stream of the whole log. */
  auditExport: { concurrency: 2, queue: 2 },
} as const satisfies Record<string, LimiterOptions>;

/** One limiter per kind of costly operation, for the whole process. */
@Injectable()
export class CostlyWork {
  readonly stateAt = new ConcurrencyLimiter('stateAt', COSTLY_LIMITS.stateAt);
  readonly rebuild = new ConcurrencyLimiter('rebuildProjections', COSTLY_LIMITS.rebuild);
  readonly import = new ConcurrencyLimiter('import', COSTLY_LIMITS.import);
  readonly auditExport = new ConcurrencyLimiter('audit export', COSTLY_LIMITS.auditExport);
}

/** Resolves on the next turn of the event loop (after pending I/O callbacks). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
