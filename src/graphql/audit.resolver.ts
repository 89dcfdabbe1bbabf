import { UseGuards } from '@nestjs/common';
import { Args, Float, Int, Query, Resolver, Subscription } from '@nestjs/graphql';
import { filter } from 'rxjs';
import { checkPosition, checkStreamPrefix, checkTypes, toAuditFilter } from '../core/audit/audit-filter';
import { AUDIT_MAX_PAGE, AuditLog, type AuditPage } from '../core/audit/audit-log';
import { validationError } from '../core/domain/shared/domain-error';
import type { RecordedEvent } from '../core/event-store/event-store.port';
import { AuthenticatedGuard } from './auth';
import { EventFilterInput, EventPage, EventType } from './event.types';
import { LiveEvents, matchesLiveFilter, toAsyncIterator } from './live-events';

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
    const from = checkPosition('after', after);
    if (!Number.isInteger(first) || first < 1) throw validationError('first', 'must be at least 1');
    return this.audit.page(toAuditFilter(filterInput), from, Math.min(first, AUDIT_MAX_PAGE));
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
    const wanted = checkTypes('types', types);
    const prefix = checkStreamPrefix('streamPrefix', streamPrefix);
    return toAsyncIterator(this.live.redacted$.pipe(filter((e) => matchesLiveFilter(e, wanted, prefix))));
  }
}
