import { ImageEventType } from '../domain/image/image.events';
import type { RecordedEvent } from '../event-store/event-store.port';
import type { Projection } from './projection';
import type { ReadModelState } from './read-models';

export const imagesProjection: Projection = {
  name: 'images',
  handles: Object.values(ImageEventType),
  apply(state: ReadModelState, event: RecordedEvent): void {
    const d = event.data as Record<string, unknown> & { imageId: string };
    switch (event.type) {
      case ImageEventType.ImageRegistered:
        state.images.set(d.imageId, {
          id: d.imageId, name: d.name as string, path: d.path as string, bootPath: d.bootPath as string,
          registeredAt: event.metadata.timestamp,
        });
        break;
      case ImageEventType.ImageRenamed: {
        const i = state.images.get(d.imageId);
        if (i) i.name = d.name as string;
        break;
      }
      case ImageEventType.ImageDeleted:
        state.images.delete(d.imageId);
        break;
    }
  },
};
