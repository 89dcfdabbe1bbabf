/**
 * Costly operations (a replay for `stateAt`, a rebuild of the read models, an audit export, a class
 * import) share the process and its event loop with DHCP and the rest of the API. Each kind runs at
 * most `concurrency` at once; a few more wait in a bounded queue, each for a second at most; beyond
 * that the caller gets TOO_BUSY, rather than piling work up until the process runs out of memory.
 */
import { Injectable } from '@nestjs/common';
import { eventLoopTurns } from './event-loop-turns';

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
  /** How long one may wait for a turn before it is refused with TooBusyError (default 1 s). */
  maxWaitMs?: number;
}

const DEFAULT_MAX_WAIT_MS = 1000;

export class ConcurrencyLimiter {
  private active = 0;
  private readonly waiting: Array<{ go: () => void }> = [];

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
      await new Promise<void>((resolve, reject) => {
        const waiter = {
          go: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(new TooBusyError(this.kind));
        }, this.options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS);
        this.waiting.push(waiter);
      });
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; otherwise it is freed.
      if (next) next.go();
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

/**
 * Resolves in a turn of the event loop of its own (after pending I/O callbacks, and in line with
 * GraphQL requests: see event-loop-turns.ts).
 */
export function yieldToEventLoop(): Promise<void> {
  return eventLoopTurns.yieldTurn();
}
