import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageDecider, type ImageCommand } from '../../../src/core/domain/image/image.decider';
import type { ImageEvent } from '../../../src/core/domain/image/image.events';
import type { ImageImportedData, ImageVersionCreatedData } from '../../../src/core/plugin-api';
import { decider } from '../../support/given-when-then';

const image = decider(imageDecider);
const imageId = 'lite';
const root = '/var/lib/bramble/images/lite';

const importedData: ImageImportedData = {
  imageId,
  name: 'Lite',
  source: { kind: 'disk-image', path: '/srv/lite.img.xz', sha256: 'a'.repeat(64), sizeBytes: 1000 },
  path: `${root}/v1`,
  bootPath: `${root}/v1/boot/firmware`,
  sizeBytes: 5000,
  fileCount: 12,
  osRelease: { id: 'debian', versionId: '12', versionCodename: 'bookworm', prettyName: 'Debian 12' },
  architecture: 'arm64',
};
const imported: ImageEvent = { type: 'ImageImported', data: importedData };

function versionData(version: number, parentVersion: number, over: Partial<ImageVersionCreatedData> = {}): ImageVersionCreatedData {
  return {
    imageId,
    version,
    parentVersion,
    reason: 'convert',
    path: `${root}/v${version}`,
    bootPath: `${root}/v${version}/boot/firmware`,
    changes: [{ path: '/etc/fstab', action: 'modified', sha256: 'b'.repeat(64) }],
    command: null,
    ...over,
  };
}
const created = (version: number, parent: number): ImageEvent => ({ type: 'ImageVersionCreated', data: versionData(version, parent) });
const activated = (version: number, previousVersion: number): ImageEvent => ({
  type: 'ImageVersionActivated',
  data: { imageId, version, previousVersion },
});
const createVersion = (version: number, parent: number, activate = true, over: Partial<ImageVersionCreatedData> = {}): ImageCommand => ({
  type: 'CreateVersion',
  data: versionData(version, parent, over),
  activate,
});

describe('image decider: imports and versions', () => {
  it('records an import as a new image with version 1', () => {
    image.given([]).when({ type: 'RecordImport', data: importedData }).then([imported]);
  });

  it('an import cannot take the id of an image that existed, even a deleted one', () => {
    image.given([imported]).when({ type: 'RecordImport', data: importedData }).thenThrows('IMAGE_EXISTS', 'imageId');
    image
      .given([imported, { type: 'ImageDeleted', data: { imageId } }])
      .when({ type: 'RecordImport', data: importedData })
      .thenThrows('IMAGE_EXISTS', 'imageId');
  });

  it('an import whose boot folder is outside its tree is refused', () => {
    image
      .given([])
      .when({ type: 'RecordImport', data: { ...importedData, bootPath: '/boot/firmware' } })
      .thenThrows('VALIDATION', 'bootPath');
  });

  it('a new version is recorded, and activated when asked', () => {
    image
      .given([imported])
      .when(createVersion(2, 1))
      .then([created(2, 1), activated(2, 1)]);
    image
      .given([imported])
      .when(createVersion(2, 1, false))
      .then([created(2, 1)]);
  });

  it('version numbers go up and are never reused, even after a deletion', () => {
    const deleted2: ImageEvent = { type: 'ImageVersionDeleted', data: { imageId, version: 2 } };
    image
      .given([imported, created(2, 1)])
      .when(createVersion(2, 1))
      .thenThrows('CONCURRENCY_CONFLICT', 'version');
    image
      .given([imported, created(2, 1), deleted2])
      .when(createVersion(2, 1))
      .thenThrows('CONCURRENCY_CONFLICT', 'version');
    image
      .given([imported, created(2, 1), deleted2])
      .when(createVersion(3, 1))
      .then([created(3, 1), activated(3, 1)]);
  });

  it('a version needs an existing parent and its own tree', () => {
    image.given([imported]).when(createVersion(2, 7)).thenThrows('IMAGE_VERSION_NOT_FOUND', 'version');
    image
      .given([imported])
      .when(createVersion(2, 1, true, { path: `${root}/v1`, bootPath: `${root}/v1/boot/firmware` }))
      .thenThrows('VALIDATION', 'path');
  });

  it('a version of an unknown image is refused', () => {
    image.given([]).when(createVersion(2, 1)).thenThrows('IMAGE_NOT_FOUND', 'imageId');
  });

  it('activates a kept version; activating the active one changes nothing', () => {
    image
      .given([imported, created(2, 1), activated(2, 1)])
      .when({ type: 'ActivateVersion', imageId, version: 1 })
      .then([activated(1, 2)]);
    image
      .given([imported, created(2, 1), activated(2, 1)])
      .when({ type: 'ActivateVersion', imageId, version: 2 })
      .then([]);
    image.given([imported]).when({ type: 'ActivateVersion', imageId, version: 3 }).thenThrows('IMAGE_VERSION_NOT_FOUND', 'version');
    image.given([imported]).when({ type: 'ActivateVersion', imageId, version: 0 }).thenThrows('VALIDATION', 'version');
  });

  it('the active version cannot be deleted', () => {
    const error = image
      .given([imported, created(2, 1), activated(2, 1)])
      .when({ type: 'DeleteVersion', imageId, version: 2, bootedBy: [] })
      .thenThrows('IMAGE_IN_USE', 'version');
    assert.match(error.message, /active/);
  });

  it('a version a Pi booted and still runs cannot be deleted: the message names the Pis', () => {
    const error = image
      .given([imported, created(2, 1), activated(2, 1)])
      .when({ type: 'DeleteVersion', imageId, version: 1, bootedBy: ['dc:a6:32:00:00:01', 'dc:a6:32:00:00:01'] })
      .thenThrows('IMAGE_IN_USE', 'version');
    assert.match(error.message, /1 client\(s\).*dc:a6:32:00:00:01/);
  });

  it('an unused old version is deleted', () => {
    image
      .given([imported, created(2, 1), activated(2, 1)])
      .when({ type: 'DeleteVersion', imageId, version: 1, bootedBy: [] })
      .then([{ type: 'ImageVersionDeleted', data: { imageId, version: 1 } }]);
  });

  it('records a failed command against an existing version, and an export of one', () => {
    const record = {
      command: 'apt-get install -y nope',
      exitCode: 100,
      signal: null,
      logSha256: 'c'.repeat(64),
      logBytes: 10,
      durationMs: 5,
    };
    image
      .given([imported])
      .when({ type: 'RecordCommandFailed', data: { imageId, parentVersion: 1, ...record } })
      .then([{ type: 'ImageCommandFailed', data: { imageId, parentVersion: 1, ...record } }]);
    const exported = { imageId, version: 1, file: '/srv/out.tar.xz', sha256: 'd'.repeat(64), sizeBytes: 99 };
    image
      .given([imported])
      .when({ type: 'RecordExport', data: exported })
      .then([{ type: 'ImageExported', data: exported }]);
    image
      .given([imported])
      .when({ type: 'RecordExport', data: { ...exported, version: 2 } })
      .thenThrows('IMAGE_VERSION_NOT_FOUND', 'version');
  });

  it('a clone is a new image whose version 1 is the copied tree', () => {
    const data = {
      imageId: 'lite-copy',
      name: 'Lite copy',
      fromImageId: imageId,
      fromVersion: 2,
      path: '/var/lib/bramble/images/lite-copy/v1',
      bootPath: '/var/lib/bramble/images/lite-copy/v1/boot/firmware',
    };
    decider(imageDecider)
      .given([])
      .when({ type: 'RecordClone', data })
      .then([{ type: 'ImageCloned', data }]);
    decider(imageDecider)
      .given([])
      .when({ type: 'RecordClone', data: { ...data, fromVersion: 0 } })
      .thenThrows('VALIDATION', 'fromVersion');
  });
});
