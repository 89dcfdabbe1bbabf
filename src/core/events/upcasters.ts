/**
 * Event schema versions and upcasters. Events are never rewritten: when the shape of an event
 * type's data changes, its version here goes up, and an upcaster turns the older shape into the
 * current one on every read (UpcastingEventStore), so deciders, read models and plugins only ever
 * see the current shape.
 */
import { upcastSettingsUpdatedV1 } from '../domain/settings/settings.upcast';
import type { RecordedEvent } from '../event-store/event-store.port';

export interface Upcaster {
  type: string;
  /** The version this upcaster reads; it returns data of version `from + 1`. */
  from: number;
  upcast(data: unknown): unknown;
}

/** Current schema version of each event type's data; types not listed are at version 1. */
export const EVENT_SCHEMA_VERSIONS: Readonly<Record<string, number>> = {
  SettingsUpdated: 2,
};

export const UPCASTERS: readonly Upcaster[] = [{ type: 'SettingsUpdated', from: 1, upcast: upcastSettingsUpdatedV1 }];

export function schemaVersionOf(type: string): number {
  return EVENT_SCHEMA_VERSIONS[type] ?? 1;
}

const byType = new Map<string, Map<number, Upcaster>>();
for (const u of UPCASTERS) {
  const forType = byType.get(u.type) ?? new Map<number, Upcaster>();
  forType.set(u.from, u);
  byType.set(u.type, forType);
}

/** True when `event` is older than its type's current version (and so needs upcasting). */
export function needsUpcast(event: RecordedEvent): boolean {
  const current = EVENT_SCHEMA_VERSIONS[event.type];
  return current !== undefined && (event.metadata.schemaVersion ?? 1) < current;
}

/** The event with its data in the current shape (the same object when it already is). */
export function upcastEvent(event: RecordedEvent): RecordedEvent {
  if (!needsUpcast(event)) return event;
  const chain = byType.get(event.type);
  let version = event.metadata.schemaVersion ?? 1;
  let data = event.data;
  const target = EVENT_SCHEMA_VERSIONS[event.type];
  while (version < target) {
    const step = chain?.get(version);
    if (!step) throw new Error(`no upcaster for ${event.type} version ${version}`);
    data = step.upcast(data);
    version += 1;
  }
  return { ...event, data, metadata: { ...event.metadata, schemaVersion: version } };
}
