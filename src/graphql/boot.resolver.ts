import { UseGuards } from '@nestjs/common';
import { Args, Int, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { filter } from 'rxjs';
import { BootSessions } from '../core/boot/boot-sessions';
import type { BootProgress as BootProgressView, BootSessionSummary } from '../core/domain/boot/boot-session';
import { normalizeMac } from '../core/domain/client/mac';
import { validationError } from '../core/domain/shared/domain-error';
import type { ClientView } from '../core/projections/read-models';
import { AuthenticatedGuard } from './auth';
import { BootProgress, BootSession, BootStageEnum } from './boot.types';
import { Client } from './client.types';
import { toAsyncIterator } from './live-events';

/** Most sessions one bootSessions query returns. */
export const MAX_BOOT_SESSIONS = 100;

/** Boot sessions: live progress, history, and each client's current stage. Thin: core/boot does the work. */
@Resolver(() => Client)
@UseGuards(AuthenticatedGuard)
export class BootResolver {
  constructor(private readonly boot: BootSessions) {}

  @Subscription(() => BootProgress, {
    description: 'Live boot progress of one client (or of all when mac is omitted): every stage change and every file fact.',
    resolve: (progress: BootProgressView) => progress,
  })
  bootProgress(@Args('mac', { type: () => String, nullable: true }) mac?: string | null): AsyncIterableIterator<BootProgressView> {
    const only = mac ? normalizeMac(mac) : null;
    return toAsyncIterator(this.boot.progress$.pipe(filter((p) => only === null || p.mac === only)));
  }

  @Query(() => [BootSession], { description: `A client's last boot sessions, newest first (at most ${MAX_BOOT_SESSIONS}).` })
  bootSessions(
    @Args('mac') mac: string,
    @Args('last', { type: () => Int, nullable: true, defaultValue: 10 }) last: number,
  ): Promise<BootSessionSummary[]> {
    const n = last ?? 10;
    if (!Number.isInteger(n) || n < 1 || n > MAX_BOOT_SESSIONS) throw validationError('last', `must be 1 to ${MAX_BOOT_SESSIONS}`);
    return this.boot.history(normalizeMac(mac), n);
  }

  @ResolveField(() => BootStageEnum, { nullable: true, description: 'Stage of its current (or last) boot session; null before the first.' })
  bootStage(@Parent() client: ClientView): string | null {
    return this.boot.state(client.mac)?.session?.stage ?? null;
  }

  @ResolveField(() => String, { nullable: true, description: 'Id of its current (or last) boot session.' })
  bootSessionId(@Parent() client: ClientView): string | null {
    return this.boot.state(client.mac)?.session?.sessionId ?? null;
  }

  @ResolveField(() => String, {
    nullable: true,
    description: 'The directory user who logged in during its current boot (until it fails or reboots).',
  })
  loggedInUser(@Parent() client: ClientView): string | null {
    const session = this.boot.state(client.mac)?.session;
    return session && session.loggedIn && session.stage !== 'FAILED' ? session.username : null;
  }

  @ResolveField(() => String, { nullable: true, description: 'When it last reached BOOTED (ISO-8601).' })
  lastBootAt(@Parent() client: ClientView): string | null {
    const at = this.boot.state(client.mac)?.lastBootedAt;
    return typeof at === 'number' ? new Date(at).toISOString() : null;
  }
}
