/**
 * Checks of what a caller asks of the audit log, shared by the GraphQL API (`events` query and
 * subscription, `stateAt`) and the NDJSON export: a value out of range is a VALIDATION error naming
 * the field, never an INTERNAL error (or a stack overflow) further down.
 */
import { validationError } from '../domain/shared/domain-error';
import type { EventFilter } from '../event-store/event-store.port';

export const AUDIT_FILTER_LIMITS = {
  /** Stream prefixes in one filter (`streamPrefix` and `streamPrefixes` together). */
  maxStreamPrefixes: 100,
  /** Characters of one stream prefix (stream names are far shorter). */
  maxStreamPrefixLength: 256,
  /** Event types in one filter. */
  maxTypes: 100,
  /** Characters of one event type. */
  maxTypeLength: 128,
  /** Characters of an actor (`admin:<token name>`, `plugin:<name>`). */
  maxActorLength: 256,
  /** Characters of an ISO-8601 time. */
  maxTimeLength: 64,
} as const;

export interface AuditFilterInput {
  streamPrefix?: string | null;
  streamPrefixes?: readonly string[] | null;
  types?: readonly string[] | null;
  actor?: string | null;
  since?: string | null;
  until?: string | null;
}

/** A global position (`after`, `position`): an integer from 0 to 2^53 - 1. */
export function checkPosition(field: string, value: number | null | undefined): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw validationError(field, `must be a position (an integer from 0 to ${Number.MAX_SAFE_INTEGER})`);
  }
  return value;
}

/** A position given as text (a URL's query string): digits only, in range. */
export function parsePosition(field: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,16}$/.test(text)) throw validationError(field, `must be a position (an integer from 0 to ${Number.MAX_SAFE_INTEGER})`);
  return checkPosition(field, Number(text));
}

/** An ISO-8601 time, normalised; undefined when not given. */
export function checkTime(field: string, value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value.length > AUDIT_FILTER_LIMITS.maxTimeLength || Number.isNaN(Date.parse(value)))
    throw validationError(field, 'not an ISO-8601 time');
  return new Date(value).toISOString();
}

function checkList(field: string, values: readonly string[], maxCount: number, maxLength: number): void {
  if (values.length > maxCount) throw validationError(field, `at most ${maxCount} values, got ${values.length}`);
  for (const v of values) {
    if (v.length > maxLength) throw validationError(field, `a value is ${v.length} characters long; at most ${maxLength}`);
  }
}

/** The `types` of a live-feed subscription, or of a filter. */
export function checkTypes(field: string, types: readonly string[] | null | undefined): readonly string[] | undefined {
  if (!types) return undefined;
  checkList(field, types, AUDIT_FILTER_LIMITS.maxTypes, AUDIT_FILTER_LIMITS.maxTypeLength);
  return types;
}

/** One stream prefix (the live feed's `streamPrefix`). */
export function checkStreamPrefix(field: string, prefix: string | null | undefined): string | undefined {
  if (prefix === null || prefix === undefined) return undefined;
  checkList(field, [prefix], 1, AUDIT_FILTER_LIMITS.maxStreamPrefixLength);
  return prefix;
}

/**
 * A filter as the event store takes it. `path` prefixes field names in errors (`filter.` in
 * GraphQL, nothing for the export's query parameters).
 */
export function toAuditFilter(input: AuditFilterInput | null | undefined, path = ''): EventFilter {
  const filter: EventFilter = {};
  if (!input) return filter;
  checkStreamPrefix(`${path}streamPrefix`, input.streamPrefix);
  const prefixes = [...(input.streamPrefixes ?? []), ...(input.streamPrefix ? [input.streamPrefix] : [])].filter(Boolean);
  checkList(`${path}streamPrefixes`, prefixes, AUDIT_FILTER_LIMITS.maxStreamPrefixes, AUDIT_FILTER_LIMITS.maxStreamPrefixLength);
  if (prefixes.length > 0) filter.streamPrefixes = prefixes;
  const types = checkTypes(`${path}types`, input.types);
  if (types && types.length > 0) filter.types = [...types];
  if (input.actor !== null && input.actor !== undefined && input.actor !== '') {
    if (input.actor.length > AUDIT_FILTER_LIMITS.maxActorLength) {
      throw validationError(`${path}actor`, `at most ${AUDIT_FILTER_LIMITS.maxActorLength} characters`);
    }
    filter.actor = input.actor;
  }
  const since = checkTime(`${path}since`, input.since);
  const until = checkTime(`${path}until`, input.until);
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  return filter;
}
