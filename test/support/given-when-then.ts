/**
 * Given / when / then for deciders:
 *
 *   decider(clientDecider).given([detected]).when(approve).then([approved]);
 *   decider(clientDecider).given([]).when(rename).thenThrows('CLIENT_NOT_FOUND', 'mac');
 *
 * No store, no clock: past events are folded with `evolve`, the command goes to `decide`.
 */
import assert from 'node:assert/strict';
import { fold, type Decider, type DomainEvent } from '../../src/core/domain/shared/decider';
import { DomainError } from '../../src/core/domain/shared/domain-error';

export interface Then<State, Event> {
  /** The command produces exactly these events (in order); returns them. */
  then(expected: Event[]): Event[];
  /** The command produces no events. */
  thenNothing(): void;
  /**
   * The command throws a DomainError with this code; when `fieldOrMessagePart` is given, the
   * error's field equals it or its message contains it. Returns the error.
   */
  thenThrows(code: string, fieldOrMessagePart?: string): DomainError;
  /** The events the command produces, for assertions of one's own. */
  events(): Event[];
  /** The state after the given events and the command's events. */
  state(): State;
}

export interface When<State, Command, Event> {
  when(command: Command): Then<State, Event>;
  /** The state after the given events. */
  state(): State;
}

export interface Given<State, Command, Event> {
  given(events: DomainEvent[]): When<State, Command, Event>;
}

export function decider<State, Command, Event extends DomainEvent>(d: Decider<State, Command, Event>): Given<State, Command, Event> {
  return {
    given(past) {
      const state = (): State => fold(d, past);
      return {
        state,
        when(command) {
          const run = (): Event[] => d.decide(command, state());
          return {
            events: run,
            then(expected) {
              const actual = run();
              assert.deepStrictEqual(actual, expected);
              return actual;
            },
            thenNothing() {
              assert.deepStrictEqual(run(), []);
            },
            thenThrows(code, fieldOrMessagePart) {
              let caught: unknown;
              try {
                const produced = run();
                assert.fail(`expected ${code}, but the command produced ${JSON.stringify(produced)}`);
              } catch (error) {
                caught = error;
              }
              if (caught instanceof assert.AssertionError) throw caught;
              assert.ok(caught instanceof DomainError, `expected a DomainError, got ${String(caught)}`);
              assert.equal(caught.code, code, `code (message: ${caught.message})`);
              assertNamesField(caught);
              if (fieldOrMessagePart !== undefined) {
                assert.ok(
                  caught.field === fieldOrMessagePart || caught.message.includes(fieldOrMessagePart),
                  `expected field or message to name "${fieldOrMessagePart}", got field ${caught.field}, message "${caught.message}"`,
                );
              }
              return caught;
            },
            state() {
              return fold(d, [...past, ...run()]);
            },
          };
        },
      };
    },
  };
}

/** Asserts that `fn` throws a DomainError with `code` (and field or message part); returns it. */
export function assertDomainError(fn: () => unknown, code: string, fieldOrMessagePart?: string): DomainError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof DomainError, `expected a DomainError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, `code (message: ${caught.message})`);
  assertNamesField(caught);
  if (fieldOrMessagePart !== undefined) {
    assert.ok(
      caught.field === fieldOrMessagePart || caught.message.includes(fieldOrMessagePart),
      `expected field or message to name "${fieldOrMessagePart}", got field ${caught.field}, message "${caught.message}"`,
    );
  }
  return caught;
}

/** A validation error's message starts with the field it names (`username: must match ...`). */
function assertNamesField(error: DomainError): void {
  if (error.code === 'VALIDATION') {
    assert.ok(error.field, `VALIDATION error without a field: ${error.message}`);
    assert.ok(error.message.startsWith(error.field), `message "${error.message}" does not start with its field`);
  }
}
