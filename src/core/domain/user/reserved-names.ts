/**
 * Whether a user or group name is one the Pi's own OS already has (the lists and their sources are
 * in reserved-names.data.ts; why it matters is explained there).
 *
 * Checked only where a NEW name enters the directory, at command time: creating or importing a
 * user, creating a group, and each group name put in a user's `groups`. Never on the evolve or
 * projection side: events stored before a name was reserved (or before this check existed) must
 * still replay, and such a user or group can still be changed, emptied and deleted.
 *
 * Matching is exact on the lower-case name, plus the prefixes (`systemd-`, `_`). Names are already
 * lower-case when they pass USERNAME_PATTERN; lower-casing here only keeps the rule true on its own.
 */
import { validationError } from '../shared/domain-error';
import { RESERVED_NAME_LISTS, RESERVED_PREFIXES } from './reserved-names.data';

/** The stable part of the error message (after `<field>: `). */
export const RESERVED_REASON = "reserved: a system account of the Pi's OS";

export type ReservedMatch = { rule: 'name'; name: string; sources: string[] } | { rule: 'prefix'; prefix: string; source: string };

const BY_NAME: ReadonlyMap<string, readonly string[]> = (() => {
  const map = new Map<string, string[]>();
  for (const list of RESERVED_NAME_LISTS) {
    for (const name of list.names) {
      const key = name.toLowerCase();
      const sources = map.get(key) ?? [];
      sources.push(list.source);
      map.set(key, sources);
    }
  }
  return map;
})();

/** Why `name` is reserved, or null when it is free. */
export function reservedName(name: string): ReservedMatch | null {
  if (typeof name !== 'string') return null;
  const key = name.toLowerCase();
  const sources = BY_NAME.get(key);
  if (sources) return { rule: 'name', name: key, sources: [...sources] };
  for (const { prefix, source } of RESERVED_PREFIXES) {
    if (key.startsWith(prefix)) return { rule: 'prefix', prefix, source };
  }
  return null;
}

export function isReservedName(name: string): boolean {
  return reservedName(name) !== null;
}

/**
 * Throws VALIDATION on `field`, `<field>: reserved: a system account of the Pi's OS (…)`, when
 * `name` is reserved. The parenthesis names the name or the prefix, never a source path.
 */
export function validateNotReserved(name: string, field: string): void {
  const match = reservedName(name);
  if (!match) return;
  const detail = match.rule === 'name' ? `\`${match.name}\`` : `names starting with \`${match.prefix}\``;
  throw validationError(field, `${RESERVED_REASON} (${detail})`);
}
