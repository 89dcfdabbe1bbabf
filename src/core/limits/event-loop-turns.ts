/**
 * Work that is not urgent takes turns on the event loop: one unit of work per turn of the loop,
 * and the loop polls for I/O (a DHCP packet, a /health request) between two turns. A unit is a
 * GraphQL request (HTTP, or a WebSocket message) or one page of a costly operation (a replay for
 * stateAt, an audit export); they wait in one line, first come first served.
 *
 * Without this, twenty GraphQL requests arriving together are parsed, validated and executed back
 * to back in one turn, with the pages of two replays on top, and a DHCP packet arriving meanwhile
 * waits for all of them. With it, what waits is the next unit of work, not the packet.
 *
 * A unit runs synchronously (with its promise continuations) in its turn until it waits for real
 * I/O; the request limits (src/graphql/query-limits.ts) and the page sizes bound how long that is.
 * At most `maxQueued` requests wait for a turn; beyond that one is refused at once (TOO_BUSY).
 * Costly operations that already hold their slot always get a turn (`yieldTurn`).
 */
export class EventLoopTurns {
  private readonly queue: Array<() => void> = [];
  private scheduled = false;
  private onError: (error: unknown) => void = () => undefined;

  /** @param maxQueued requests waiting for a turn before one more is refused. */
  constructor(readonly maxQueued = 256) {}

  /** Waiting for a turn now. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Where an error thrown by a unit goes (it never stops the next turns). */
  setErrorHandler(handler: (error: unknown) => void): void {
    this.onError = handler;
  }

  /** Runs `work` in a turn of its own; false (and `work` never runs) when too many wait already. */
  enqueue(work: () => void): boolean {
    if (this.queue.length >= this.maxQueued) return false;
    this.push(work);
    return true;
  }

  /** Resolves in a turn of its own (never refused: for work already admitted). */
  yieldTurn(): Promise<void> {
    return new Promise((resolve) => this.push(resolve));
  }

  private push(work: () => void): void {
    this.queue.push(work);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // An immediate queued from an immediate runs on the next turn of the loop, after its I/O poll.
    setImmediate(() => this.turn());
  }

  private turn(): void {
    this.scheduled = false;
    const work = this.queue.shift();
    if (this.queue.length > 0) this.schedule();
    if (!work) return;
    try {
      work();
    } catch (error) {
      this.onError(error);
    }
  }
}

/** The process's one line of turns: GraphQL requests and the pages of costly operations. */
export const eventLoopTurns = new EventLoopTurns();
