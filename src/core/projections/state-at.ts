import type { EventStore } from '../event-store/event-store.port';
import { yieldToEventLoop } from '../limits/concurrency-limiter';
import { CORE_PROJECTIONS, ProjectionSet, emptyReadModels } from './core-projections';
import type { ReadModelState } from './read-models';

export interface PointInTime {
  /** Include events up to and including this global position. */
  position?: number;
  /** Include events whose timestamp is at or before this ISO-8601 time. */
  time?: string;
}

export interface StateAt {
  state: ReadModelState;
  /** Position of the last event included (0 when none). */
  position: number;
  events: number;
}

/** Events read and applied between two turns of the event loop. */
export const STATE_AT_PAGE_SIZE = 200;

/**
 * The read models as they were at a point in the past, computed into a fresh state from the
 * store: the live read models are never touched. The replay yields to the event loop after each
 * page, so that a replay of a million events never holds it (DHCP, /health) for more than a page.
 */
export async function computeStateAt(store: EventStore, at: PointInTime, pageSize = STATE_AT_PAGE_SIZE): Promise<StateAt> {
  const state = emptyReadModels();
  const projections = new ProjectionSet(CORE_PROJECTIONS);
  const until = at.time === undefined ? undefined : new Date(Date.parse(at.time) + 1).toISOString();
  // The largest position a caller may give means "everything": one more would not be a safe integer.
  const before = at.position === undefined || at.position >= Number.MAX_SAFE_INTEGER ? undefined : at.position + 1;
  let after: number | undefined;
  let position = 0;
  let events = 0;
  for (;;) {
    const page = await store.readAll({ after, before, limit: pageSize, filter: until ? { until } : undefined });
    for (const e of page) {
      projections.apply(state, e);
      position = e.position;
      events++;
    }
    if (page.length < pageSize) break;
    after = page[page.length - 1].position;
    await yieldToEventLoop();
  }
  return { state, position, events };
}
