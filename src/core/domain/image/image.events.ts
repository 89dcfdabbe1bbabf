import type { CoreEventCatalogue } from '../../plugin-api/events';
import { ImageEventTypes } from '../../plugin-api/events';
import type { DomainEvent } from '../shared/decider';

/** Stream of one OS image: `image-<id>`. */
export const imageStream = (id: string): string => `image-${id}`;
export const IMAGE_STREAM_PREFIX = 'image-';

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const ImageEventType = ImageEventTypes;

type E<T extends keyof CoreEventCatalogue> = DomainEvent<T, CoreEventCatalogue[T]>;

/** `path` is the image's root tree, `bootPath` its boot folder (absolute paths). */
export type ImageRegistered = E<'ImageRegistered'>;
export type ImageRenamed = E<'ImageRenamed'>;
export type ImageDeleted = E<'ImageDeleted'>;

/** Every event of an image's stream. */
export type ImageEvent = {
  [T in keyof typeof ImageEventTypes]: E<T>;
}[keyof typeof ImageEventTypes];
