/** Client and image records for the NFS plugin's table tests. */
import type { ClientRecord, ImageRecord, ImageVersionRecord } from '../../../src/core/plugin-api';

export function client(mac: string, over: Partial<ClientRecord> = {}): ClientRecord {
  return {
    mac,
    status: 'approved',
    name: null,
    imageId: null,
    serial: null,
    model: null,
    ip: null,
    bootedImage: null,
    configTxt: '',
    cmdlineArgs: '',
    preRegistered: false,
    detectedAt: null,
    lastSeenAt: null,
    approvedAt: null,
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...over,
  };
}

export function image(id: string, paths: readonly string[], active = paths.length): ImageRecord {
  const versions: ImageVersionRecord[] = paths.map((p, i) => ({
    version: i + 1,
    parentVersion: i === 0 ? null : i,
    reason: i === 0 ? 'imported' : 'convert',
    path: p,
    bootPath: `${p}/boot/firmware`,
    createdAt: '2026-01-01T00:00:00.000Z',
  }));
  const a = versions[active - 1];
  return {
    id,
    name: id,
    path: a.path,
    bootPath: a.bootPath,
    version: a.version,
    versions,
    managed: true,
    architecture: 'arm64',
    osRelease: null,
    converted: false,
    registeredAt: '2026-01-01T00:00:00.000Z',
  };
}
