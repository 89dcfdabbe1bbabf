import type { CoreEventCatalogue } from '../../plugin-api/events';
import { BootEventTypes } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

/** Boot facts of one client: `boot-<mac>`. Observations appended by protocol plugins. */
export const bootStream = (mac: string): string => `boot-${mac}`;
export const BOOT_STREAM_PREFIX = 'boot-';

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const BootEventType = BootEventTypes;

/** One observed step of a boot (`stage` chosen by the reporting plugin). */
export type BootProgressed = DomainEvent<'BootProgressed', CoreEventCatalogue['BootProgressed']>;
