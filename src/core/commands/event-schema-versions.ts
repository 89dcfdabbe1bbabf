/**
 * The schema version of each event type's `data`. Bump a type's number when its data shape
 * changes, and teach its consumers to read both. Types not listed are at version 1.
 */
const versions: Record<string, number> = {};

export function schemaVersionOf(type: string): number {
  return versions[type] ?? 1;
}
