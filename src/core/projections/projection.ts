import type { RecordedEvent } from '../event-store/event-store.port';
import type { ReadModelState } from './read-models';

/** One projection per read model: the event types it handles and how each changes the model. */
export interface Projection {
  readonly name: string;
  readonly handles: readonly string[];
  apply(state: ReadModelState, event: RecordedEvent): void;
}
