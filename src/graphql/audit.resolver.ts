import { UseGuards } from '@nestjs/common';
import { Args, Float, Int, Query, Resolver, Subscription } from '@nestjs/graphql';
import { filter } from 'rxjs';
import { AUDIT_MAX_PAGE, AuditLog, type AuditPage } from '../core/audit/audit-log';
import { validationError } from '../core/domain/shared/domain-error';
import type { EventFilter, RecordedEvent } from '../core/event-store/event-store.port';
import { AuthenticatedGuard } from './auth';
import { EventFilterInput, EventPage, EventType } from './event.types';
import { LiveEvents, matchesLiveFilter, toAsyncIterator } from './live-events';

function toFilter(input: EventFilterInput | null | undefined): EventFilter {
  const filter: EventFilter = {};
  if (!input) return filter;
  const prefixes = [...(input.streamPrefixes ?? []), ...(input.streamPrefix ? [input.streamPrefix] : [])].filter(Boolean);
  if (prefixes.length > 0) filter.streamPrefixes = prefixes;
  if (input.types && input.types.length > 0) filter.types = input.types;
  if (input.actor) filter.actor = input.actor;
  for (const key of ['since', 'until'] as const) {
    const value = input[key];
    if (value === null || value === undefined) continue;
    if (Number.isNaN(Date.parse(value))) throw validationError(key, 'not an ISO-8601 time');
    filter[key] = new Date(value).toISOString();
  }
  return filter;
}

/** The audit log (every event, secrets redacted): paged query and live feed. */
@Resolver(() => EventType)
@UseGuards(AuthenticatedGuard)
export class AuditResolver {
  constructor(
    private readonly audit: AuditLog,
    private readonly live: LiveEvents,
  ) {}

  @Query(() => EventPage, {
    name: 'events',
    description: `Events oldest first, after the cursor \`after\` (a position); \`first\` is capped at ${AUDIT_MAX_PAGE}.`,
  })
  events(
    @Args('filter', { type: () => EventFilterInput, nullable: true }) filterInput?: EventFilterInput | null,
    @Args('after', { type: () => Float, nullable: true }) after?: number | null,
    @Args('first', { type: () => Int, nullable: true, defaultValue: 100 }) first = 100,
  ): Promise<AuditPage> {
    if (after !== null && after !== undefined && (!Number.isInteger(after) || after < 0)) {
      throw validationError('after', 'must be a position (an integer >= 0)');
    }
    if (!Number.isInteger(first) || first < 1) throw validationError('first', 'must be at least 1');
    return this.audit.page(toFilter(filterInput), after ?? undefined, Math.min(first, AUDIT_MAX_PAGE));
  }

  @Subscription(() => EventType, {
    name: 'events',
    description: 'Every new event as it is appended (after the read models applied it), secrets redacted.',
    resolve: (event: RecordedEvent) => event,
  })
  liveEvents(
    @Args('types', { type: () => [String], nullable: true }) types?: string[] | null,
    @Args('streamPrefix', { type: () => String, nullable: true }) streamPrefix?: string | null,
  ): AsyncIterableIterator<RecordedEvent> {
    return toAsyncIterator(this.live.redacted$.pipe(filter((e) => matchesLiveFilter(e, types, streamPrefix))));
  }
}
