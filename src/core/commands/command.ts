import type { CommandMeta } from '../domain/shared/command-meta';
import type { CommandOutcome } from './command-runner';

/**
 * Base of every command: the input, plus who/when/why. The result type is a CommandOutcome unless
 * a command says otherwise. Commands are dispatched by class (commands/command-bus.ts) to the
 * table of their aggregate.
 */
export abstract class BrambleCommand<I, R = CommandOutcome> {
  /** Carries the result type for `CommandBus.execute`; never set. */
  declare readonly resultType?: R;

  constructor(
    readonly input: I,
    readonly meta: CommandMeta,
  ) {}
}
