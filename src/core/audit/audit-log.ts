import type { EventFilter, EventStore, RecordedEvent } from '../event-store/event-store.port';
import { yieldToEventLoop } from '../limits/concurrency-limiter';
import { redactEventData } from './redact';

export interface AuditPage {
  events: RecordedEvent[];
  /** Position of the last event in the page: pass it as `after` for the next page. */
  endCursor: number | null;
  hasNextPage: boolean;
}

export const AUDIT_MAX_PAGE = 1000;
/** Events the NDJSON export reads at a time. */
export const AUDIT_EXPORT_PAGE = 200;

/**
 * The audit log: every event, filterable, paginated by global position, secrets redacted.
 * Reads go straight to the event store (indexed there), not through the read models.
 */
export class AuditLog {
  constructor(private readonly store: EventStore) {}

  async page(filter: EventFilter, after: number | undefined, first = 100): Promise<AuditPage> {
    const limit = Math.max(1, Math.min(first, AUDIT_MAX_PAGE));
    const rows = await this.store.readAll({ after, limit: limit + 1, filter });
    const hasNextPage = rows.length > limit;
    const events = rows.slice(0, limit).map((e) => ({ ...e, data: redactEventData(e.type, e.data) }));
    return { events, endCursor: events.length ? events[events.length - 1].position : null, hasNextPage };
  }

  /**
   * Yields every matching event, oldest first, as one NDJSON line each. Between two pages it lets
   * the event loop turn, so that exporting a million events never holds it for more than a page.
   */
  async *ndjson(filter: EventFilter, after?: number, pageSize = AUDIT_EXPORT_PAGE): AsyncGenerator<string> {
    let cursor = after;
    for (;;) {
      const page = await this.page(filter, cursor, pageSize);
      for (const e of page.events) yield JSON.stringify(e) + '\n';
      if (!page.hasNextPage || page.endCursor === null) return;
      cursor = page.endCursor;
      await yieldToEventLoop();
    }
  }
}
