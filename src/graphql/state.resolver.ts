import { Inject, UseGuards } from '@nestjs/common';
import { Args, Float, Mutation, Query, Resolver } from '@nestjs/graphql';
import { checkPosition, checkTime } from '../core/audit/audit-filter';
import { BRAMBLE_CONFIG, type BrambleConfig } from '../core/config/config';
import { validationError } from '../core/domain/shared/domain-error';
import { EVENT_STORE, type EventStore } from '../core/event-store/event-store.port';
import { CostlyWork } from '../core/limits/concurrency-limiter';
import { ProjectionEngine } from '../core/projections/projection-engine';
import { ReadModelView } from '../core/projections/read-model-queries';
import { computeStateAt } from '../core/projections/state-at';
import { AuthenticatedGuard } from './auth';
import { bindView } from './read-view';
import { RebuildResult, StateAt } from './state.types';

/**
 * Time travel and maintenance of the read models. Both replay the log: they run a few at a time
 * (CostlyWork; beyond its queue TOO_BUSY) and yield to the event loop between pages.
 */
@Resolver(() => StateAt)
@UseGuards(AuthenticatedGuard)
export class StateResolver {
  constructor(
    private readonly engine: ProjectionEngine,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(BRAMBLE_CONFIG) private readonly config: BrambleConfig,
    private readonly costly: CostlyWork,
  ) {}

  @Query(() => StateAt, { description: 'The read models as they were at a position, or at a time (ISO-8601): give exactly one.' })
  async stateAt(
    @Args('position', { type: () => Float, nullable: true }) position?: number | null,
    @Args('time', { type: () => String, nullable: true }) time?: string | null,
  ): Promise<StateAt> {
    const hasPosition = position !== null && position !== undefined;
    const hasTime = time !== null && time !== undefined;
    if (hasPosition === hasTime) throw validationError('position', 'give exactly one of position and time');
    const at = hasPosition ? { position: checkPosition('position', position) } : { time: checkTime('time', time) };
    const past = await this.costly.stateAt.run(() => computeStateAt(this.store, at));
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
    return this.costly.rebuild.run(() => this.engine.rebuild());
  }
}
