import type { ImageRecord, ImageVersionRecord } from '../plugin-api/views';
import { ImageEventType } from '../domain/image/image.events';
import { defineProjection, unhandled } from './projection';

function version(
  v: number,
  parentVersion: number | null,
  reason: ImageVersionRecord['reason'],
  path: string,
  bootPath: string,
  createdAt: string,
): ImageVersionRecord {
  return Object.freeze({ version: v, parentVersion, reason, path, bootPath, createdAt });
}

function firstRecord(
  id: string,
  name: string,
  v1: ImageVersionRecord,
  extra: Pick<ImageRecord, 'managed' | 'architecture' | 'osRelease'>,
): ImageRecord {
  return Object.freeze({
    id,
    name,
    path: v1.path,
    bootPath: v1.bootPath,
    version: 1,
    versions: Object.freeze([v1]),
    converted: false,
    registeredAt: v1.createdAt,
    ...extra,
  });
}

/** The record with `active` as its active version (converted: the active version came from a conversion, or descends from one). */
function withActive(image: ImageRecord, versions: readonly ImageVersionRecord[], active: number, converted: boolean): ImageRecord {
  const v = versions.find((x) => x.version === active) ?? versions[versions.length - 1];
  return Object.freeze({
    ...image,
    versions: Object.freeze([...versions]),
    version: v.version,
    path: v.path,
    bootPath: v.bootPath,
    converted,
  });
}

/** Whether `v` is a conversion or descends from one. */
function isConverted(versions: readonly ImageVersionRecord[], v: number): boolean {
  const byNumber = new Map(versions.map((x) => [x.version, x]));
  for (
    let cur = byNumber.get(v), hops = 0;
    cur && hops < 10_000;
    cur = cur.parentVersion === null ? undefined : byNumber.get(cur.parentVersion), hops++
  ) {
    if (cur.reason === 'convert') return true;
  }
  return false;
}

export const imagesProjection = defineProjection({
  name: 'images',
  handles: Object.values(ImageEventType),
  apply(state, event) {
    const id = event.data.imageId;
    const at = event.metadata.timestamp;
    switch (event.type) {
      case 'ImageRegistered': {
        const d = event.data;
        const v1 = version(1, null, 'registered', d.path, d.bootPath, at);
        state.images.set(id, firstRecord(id, d.name, v1, { managed: false, architecture: null, osRelease: null }));
        return;
      }
      case 'ImageImported': {
        const d = event.data;
        const v1 = version(1, null, 'imported', d.path, d.bootPath, at);
        state.images.set(id, firstRecord(id, d.name, v1, { managed: true, architecture: d.architecture, osRelease: d.osRelease }));
        return;
      }
      case 'ImageCloned': {
        const d = event.data;
        const from = state.images.get(d.fromImageId);
        const v1 = version(1, null, 'cloned', d.path, d.bootPath, at);
        const record = firstRecord(id, d.name, v1, {
          managed: true,
          architecture: from?.architecture ?? null,
          osRelease: from?.osRelease ?? null,
        });
        const converted = from ? isConverted(from.versions, d.fromVersion) : false;
        state.images.set(id, Object.freeze({ ...record, converted }));
        return;
      }
      case 'ImageRenamed': {
        const i = state.images.get(id);
        if (i) state.images.set(id, Object.freeze({ ...i, name: event.data.name }));
        return;
      }
      case 'ImageVersionCreated': {
        const i = state.images.get(id);
        if (!i) return;
        const d = event.data;
        const versions = [...i.versions, version(d.version, d.parentVersion, d.reason, d.path, d.bootPath, at)];
        state.images.set(id, withActive(i, versions, i.version, i.converted));
        return;
      }
      case 'ImageVersionActivated': {
        const i = state.images.get(id);
        if (!i) return;
        state.images.set(id, withActive(i, i.versions, event.data.version, isConverted(i.versions, event.data.version)));
        return;
      }
      case 'ImageVersionDeleted': {
        const i = state.images.get(id);
        if (!i) return;
        const versions = i.versions.filter((v) => v.version !== event.data.version);
        if (versions.length === 0) return;
        state.images.set(id, withActive(i, versions, i.version, i.converted));
        return;
      }
      case 'ImageCommandFailed':
      case 'ImageExported':
        return;
      case 'ImageDeleted':
        state.images.delete(id);
        return;
      default:
        unhandled(event);
    }
  },
});
