import { Inject, Injectable } from '@nestjs/common';
import { CommandBus } from '../core/commands/command-bus';
import type { BrambleCommand } from '../core/commands/command';
import { EVENT_STORE, type EventStore } from '../core/event-store/event-store.port';
import { ProjectionEngine } from '../core/projections/projection-engine';

/**
 * Sends commands for the resolvers and gives read-your-writes: a mutation's answer is read from
 * the read models only after they include the command's events.
 */
@Injectable()
export class CommandGateway {
  constructor(
    private readonly bus: CommandBus,
    private readonly engine: ProjectionEngine,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  /** For commands that report the position of their last event. */
  async send<R extends { position: number | null }>(command: BrambleCommand<unknown, R>): Promise<R> {
    const outcome = await this.bus.execute(command);
    await this.engine.waitFor(outcome.position);
    return outcome;
  }

  /** For commands that report per row (imports): waits until the read models reach the store's head. */
  async sendAndCatchUp<R>(command: BrambleCommand<unknown, R>): Promise<R> {
    const result = await this.bus.execute(command);
    await this.engine.waitFor(await this.store.headPosition());
    return result;
  }
}
