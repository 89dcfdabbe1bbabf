/**
 * One command-handling table per aggregate: the stream a command goes to, the decider that decides
 * it, and for each command class how its input becomes the decider's command (normalising and
 * looking up what the decision needs). The runner (per-stream queue, retry on conflict, cache)
 * does the rest: load → decide → append with the expected revision.
 *
 * Commands that touch several streams, or none that a decider owns, are named flows: a function
 * of the input, the metadata and the dependencies (createUser, imports, reportBootFact...).
 */
import type { CommandMeta } from '../domain/shared/command-meta';
import type { Decider, DomainEvent } from '../domain/shared/decider';
import type { BrambleCommand } from './command';
import type { CommandOutcome } from './command-runner';
import type { CommandDeps } from './command-deps';

/** A command class: `new ApproveClientCommand(input, meta)`. */
export type CommandClass<I, R> = new (input: I, meta: CommandMeta) => BrambleCommand<I, R>;

/** Any command class (routes are keyed by it). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CommandConstructor = abstract new (...args: any[]) => unknown;

export interface CommandRoute {
  /** The command class (routes are looked up by constructor). */
  readonly command: CommandConstructor;
  run(input: unknown, meta: CommandMeta, deps: CommandDeps): Promise<unknown>;
}

/** A table: the routes of one aggregate (or of one context's flows). */
export interface CommandTable {
  readonly name: string;
  readonly routes: readonly CommandRoute[];
}

interface AggregateSpec<S, C, E extends DomainEvent> {
  name: string;
  decider: Decider<S, C, E>;
  /** The stream of the (normalised) decider command. */
  stream(command: C): string;
}

/** Builds an aggregate's table: `on(CommandClass, input → decider command)` for each command. */
export function aggregateTable<S, C, E extends DomainEvent>(
  spec: AggregateSpec<S, C, E>,
  build: (
    on: <I>(command: CommandClass<I, CommandOutcome>, toCommand: (input: I, deps: CommandDeps) => C | Promise<C>) => CommandRoute,
  ) => CommandRoute[],
): CommandTable {
  const on = <I>(command: CommandClass<I, CommandOutcome>, toCommand: (input: I, deps: CommandDeps) => C | Promise<C>): CommandRoute => ({
    command,
    async run(input, meta, deps) {
      const decided = await toCommand(input as I, deps);
      return deps.runner.run(spec.stream(decided), spec.decider, decided, meta);
    },
  });
  return { name: spec.name, routes: build(on) };
}

/** A flow: a command handled by a function (several streams, or facts without a decision). */
export function flow<I, R>(command: CommandClass<I, R>, run: (input: I, meta: CommandMeta, deps: CommandDeps) => Promise<R>): CommandRoute {
  return { command, run: (input, meta, deps) => run(input as I, meta, deps) };
}
