import type { CoreEventCatalogue } from '../../plugin-api/events';
import { BootEventTypes } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

/** Boot sessions of one client: `boot-<mac>` (stage changes, and the image version it was handed). */
export const bootStream = (mac: string): string => `boot-${mac}`;
export const BOOT_STREAM_PREFIX = 'boot-';

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const BootEventType = BootEventTypes;

/** One observed step of a boot (`stage` chosen by the reporting plugin). */
export type BootProgressed = DomainEvent<'BootProgressed', CoreEventCatalogue['BootProgressed']>;

/** A boot session changed stage (per-file facts aggregated into it). */
export type BootStageChanged = DomainEvent<'BootStageChanged', CoreEventCatalogue['BootStageChanged']>;
