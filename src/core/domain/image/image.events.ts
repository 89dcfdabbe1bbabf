import type { DomainEvent } from '../shared/decider';

/** Stream of one OS image: `image-<id>`. */
export const imageStream = (id: string): string => `image-${id}`;
export const IMAGE_STREAM_PREFIX = 'image-';

export const ImageEventType = {
  ImageRegistered: 'ImageRegistered',
  ImageRenamed: 'ImageRenamed',
  ImageDeleted: 'ImageDeleted',
} as const;

/**
 * `path` is the image's root tree; `bootPath` the folder the Pi's boot files come from
 * (`<path>/boot/firmware` on Bookworm and later, else `<path>/boot`). Absolute paths.
 */
export type ImageRegistered = DomainEvent<
  'ImageRegistered',
  { imageId: string; name: string; path: string; bootPath: string }
>;
export type ImageRenamed = DomainEvent<'ImageRenamed', { imageId: string; name: string }>;
export type ImageDeleted = DomainEvent<'ImageDeleted', { imageId: string }>;

export type ImageEvent = ImageRegistered | ImageRenamed | ImageDeleted;
