import { Inject, UseGuards } from '@nestjs/common';
import { Args, Float, Mutation, Query, Resolver } from '@nestjs/graphql';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../core/config/config';
import { validationError } from '../core/domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from '../core/event-store/event-store.port';
import { ProjectionEngine } from '../core/projections/projection-engine';
import { ReadModelView } from '../core/projections/read-model-queries';
import { computeStateAt } from '../core/projections/state-at';
import { AuthenticatedGuard } from './auth';
import { bindView } from './read-view';
import { RebuildResult, StateAt } from './state.types';

/** Time travel and maintenance of the read models. */
@Resolver(() => StateAt)
@UseGuards(AuthenticatedGuard)
export class StateResolver {
  constructor(
    private readonly engine: ProjectionEngine,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
  ) {}

  @Query(() => StateAt, { description: 'The read models as they were at a position, or at a time (ISO-8601): give exactly one.' })
  async stateAt(
    @Args('position', { type: () => Float, nullable: true }) position?: number | null,
    @Args('time', { type: () => String, nullable: true }) time?: string | null,
  ): Promise<StateAt> {
    const hasPosition = position !== null && position !== undefined;
    const hasTime = time !== null && time !== undefined;
    if (hasPosition === hasTime) throw validationError('position', 'give exactly one of position and time');
    if (hasPosition && (!Number.isInteger(position) || position < 0)) throw validationError('position', 'must be an integer >= 0');
    if (hasTime && Number.isNaN(Date.parse(time))) throw validationError('time', 'not an ISO-8601 time');
    const past = await computeStateAt(this.store, hasPosition ? { position } : { time: new Date(time!).toISOString() });
    const view = new ReadModelView(() => past.state, {
      ...(this.config.interface ? { interface: this.config.interface } : {}),
      ...(this.config.serverIp ? { serverIp: this.config.serverIp } : {}),
    });
    const bind = <T extends object>(entity: T): T => bindView(view, entity);
    return {
      position: past.position,
      events: past.events,
      clients: view.clients().map(bind),
      users: view.users(),
      groups: view.groups(),
      images: view.images().map(bind),
      settings: view.settings(),
    } as unknown as StateAt;
  }

  @Mutation(() => RebuildResult, { description: 'Replays every event into fresh read models, then swaps them in.' })
  rebuildProjections(): Promise<RebuildResult> {
    return this.engine.rebuild();
  }
}
