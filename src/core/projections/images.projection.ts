import { ImageEventType } from '../domain/image/image.events';
import { defineProjection, unhandled } from './projection';

export const imagesProjection = defineProjection({
  name: 'images',
  handles: Object.values(ImageEventType),
  apply(state, event) {
    const id = event.data.imageId;
    switch (event.type) {
      case 'ImageRegistered': {
        const d = event.data;
        state.images.set(
          id,
          Object.freeze({ id, name: d.name, path: d.path, bootPath: d.bootPath, registeredAt: event.metadata.timestamp }),
        );
        return;
      }
      case 'ImageRenamed': {
        const i = state.images.get(id);
        if (i) state.images.set(id, Object.freeze({ ...i, name: event.data.name }));
        return;
      }
      case 'ImageDeleted':
        state.images.delete(id);
        return;
      default:
        unhandled(event);
    }
  },
});
