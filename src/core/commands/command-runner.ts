import { randomUUID } from 'node:crypto';
import type { Decider, DomainEvent } from '../domain/shared/decider';
import type { CommandMeta } from '../domain/shared/command-meta';
import { WrongExpectedRevisionError, type EventStore, type NewEvent } from '../event-store/event-store.port';
import type { Logger } from '../logging/logger';
import { schemaVersionOf } from '../events/upcasters';

/** What a command produced. */
export interface CommandOutcome {
  /** Global position of the last appended event; null when the decision produced no events. */
  position: number | null;
  /** The events appended, in order (type and data). */
  events: DomainEvent[];
}

/** What a decided command produced: its events, typed by the decider. */
export interface DecidedOutcome<E extends DomainEvent> extends CommandOutcome {
  events: E[];
}

export const NO_EVENTS: CommandOutcome = Object.freeze({ position: null, events: [] }) as CommandOutcome;

interface CachedState {
  state: unknown;
  /** Revision of the last event folded into state; -1 for an empty stream. */
  revision: number;
}

/**
 * Runs a command against one stream: load (from a small cache, or the stream), decide (pure),
 * append with the expected revision, and on a concurrency conflict read the stream's new events
 * and decide again.
 * Every command handler goes through here, so they stay three lines long.
 */
export class CommandRunner {
  private readonly cache = new Map<string, CachedState>();
  /** Commands on one stream run one after another in this process, so they never conflict here;
   * conflicts can still come from another writer (another bramble on the same KurrentDB). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly cacheLimit = 10_000;
  static readonly MAX_ATTEMPTS = 8;

  constructor(
    private readonly store: EventStore,
    private readonly logger: Logger,
  ) {}

  run<S, C, E extends DomainEvent>(stream: string, decider: Decider<S, C, E>, command: C, meta: CommandMeta): Promise<DecidedOutcome<E>> {
    const previous = this.queues.get(stream) ?? Promise.resolve();
    const result = previous.then(
      () => this.runNow(stream, decider, command, meta),
      () => this.runNow(stream, decider, command, meta),
    );
    const tail = result.catch(() => undefined);
    this.queues.set(stream, tail);
    void tail.then(() => {
      if (this.queues.get(stream) === tail) this.queues.delete(stream);
    });
    return result;
  }

  private async runNow<S, C, E extends DomainEvent>(
    stream: string,
    decider: Decider<S, C, E>,
    command: C,
    meta: CommandMeta,
  ): Promise<DecidedOutcome<E>> {
    for (let attempt = 1; ; attempt++) {
      // The first attempt decides on the cached state when there is one, without reading the
      // stream: the append's expected revision is the check (another writer since, on a shared
      // KurrentDB, makes it a conflict, and the retry reads). A boot storm's DHCP runs several
      // commands per new Pi, and this read was one store round trip each. Only an append checks
      // the cached state, so a decision with nothing to append, or a refusal, is made again on the
      // stream as it is.
      const cached = attempt === 1 ? this.appendsOnCache(stream, decider, command) : null;
      const { state, revision } = cached ?? (await this.load(stream, decider));
      const events = cached ? cached.events : decider.decide(command, state);
      if (events.length === 0) return { position: null, events: [] };
      const newEvents: NewEvent[] = events.map((e) => ({
        id: randomUUID(),
        type: e.type,
        data: e.data,
        metadata: {
          actor: meta.actor,
          correlationId: meta.correlationId,
          causationId: meta.causationId,
          timestamp: meta.timestamp,
          schemaVersion: schemaVersionOf(e.type),
        },
      }));
      try {
        const result = await this.store.append(stream, newEvents, revision < 0 ? 'no_stream' : revision);
        let next = state;
        for (const e of events) next = decider.evolve(next, e);
        this.remember(stream, { state: next, revision: result.revision });
        return { position: result.position, events };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= CommandRunner.MAX_ATTEMPTS) throw error;
        this.logger.debug('concurrency conflict, retrying', { stream, attempt });
        this.cache.delete(stream);
      }
    }
  }

  /** The cached state of `stream` and what deciding on it appends; null when nothing is cached, it appends nothing, or it refuses. */
  private appendsOnCache<S, C, E extends DomainEvent>(
    stream: string,
    decider: Decider<S, C, E>,
    command: C,
  ): { state: S; revision: number; events: E[] } | null {
    const cached = this.cache.get(stream);
    if (!cached) return null;
    const state = cached.state as S;
    let events: E[];
    try {
      events = decider.decide(command, state);
    } catch {
      return null;
    }
    return events.length > 0 ? { state, revision: cached.revision, events } : null;
  }

  /** Appends facts that need no decision (boot progress, plugin events): expected revision any. */
  async record(stream: string, events: DomainEvent[], meta: CommandMeta): Promise<CommandOutcome> {
    if (events.length === 0) return NO_EVENTS;
    const result = await this.store.append(
      stream,
      events.map((e) => ({
        id: randomUUID(),
        type: e.type,
        data: e.data,
        metadata: { ...meta, schemaVersion: schemaVersionOf(e.type) },
      })),
      'any',
    );
    return { position: result.position, events };
  }

  /** Current state of a stream (for handlers that must look before they decide). */
  async load<S, C, E extends DomainEvent>(stream: string, decider: Decider<S, C, E>): Promise<{ state: S; revision: number }> {
    const cached = this.cache.get(stream);
    let state = (cached ? cached.state : decider.initialState()) as S;
    let revision = cached ? cached.revision : -1;
    const fresh = await this.store.readStream(stream, { fromRevision: revision + 1 });
    for (const event of fresh) {
      state = decider.evolve(state, event);
      revision = event.revision;
    }
    if (fresh.length > 0) this.remember(stream, { state, revision });
    return { state, revision };
  }

  private remember(key: string, entry: CachedState): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    if (this.cache.size > this.cacheLimit) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
