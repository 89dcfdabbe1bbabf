/**
 * The decider pattern (after Emmett): pure functions, no framework imports, no clock, no I/O.
 * A command carries everything the decision needs (time and actor arrive with it).
 */

/** A domain event before it is stored: a past-tense type constant and plain data. */
export interface DomainEvent<T extends string = string, D = unknown> {
  type: T;
  data: D;
}

export interface Decider<State, Command, Event extends DomainEvent> {
  initialState(): State;
  /** Applies one event. Unknown event types leave the state unchanged. */
  evolve(state: State, event: Event | DomainEvent): State;
  /** Returns the new events (possibly none) or throws a DomainError. */
  decide(command: Command, state: State): Event[];
}

/** Folds a stream's past events into state. */
export function fold<State, Command, Event extends DomainEvent>(
  decider: Decider<State, Command, Event>,
  events: Iterable<DomainEvent>,
): State {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
