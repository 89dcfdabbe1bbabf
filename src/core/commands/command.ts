import { Command } from '@nestjs/cqrs';
import type { CommandMeta } from '../domain/shared/command-meta';
import type { CommandOutcome } from './command-runner';

/**
 * Base of every command sent on the CommandBus: the input, plus who/when/why. The result type is
 * a CommandOutcome unless a command says otherwise.
 */
export abstract class BrambleCommand<I, R = CommandOutcome> extends Command<R> {
  constructor(
    readonly input: I,
    readonly meta: CommandMeta,
  ) {
    super();
  }
}
