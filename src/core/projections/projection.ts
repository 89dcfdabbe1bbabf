import type { CoreEvent, CoreEventType } from '../plugin-api/events';
import type { ReadModelState } from './read-models';

/** One projection per read model: the event types it handles and how each changes the model. */
export interface Projection<T extends CoreEventType = CoreEventType> {
  readonly name: string;
  readonly handles: readonly T[];
  apply(state: ReadModelState, event: CoreEvent<T>): void;
}

/** Declares a projection, typing `apply`'s event from `handles`. */
export function defineProjection<T extends CoreEventType>(projection: Projection<T>): Projection<T> {
  return projection;
}

/** Ends an exhaustive switch over event types: a new type in `handles` must be handled. */
export function unhandled(event: never): never {
  throw new Error(`projection does not handle ${(event as { type: string }).type}`);
}
