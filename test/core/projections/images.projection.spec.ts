import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientsProjection } from '../../../src/core/projections/clients.projection';
import { imagesProjection } from '../../../src/core/projections/images.projection';
import type { ReadModelState } from '../../../src/core/projections/read-models';
import type { RecordedEvent } from '../../../src/core/plugin-api';

let position = 0;
function event(type: string, data: Record<string, unknown>, timestamp = '2026-11-26T10:00:00.000Z'): RecordedEvent {
  position++;
  return { type, data, metadata: { timestamp }, position, stream: 's', revision: 0 } as unknown as RecordedEvent;
}

function state(): ReadModelState {
  return { images: new Map(), clients: new Map(), clientByIp: new Map(), clientBySerial: new Map() } as unknown as ReadModelState;
}

const v = (n: number) => ({ path: `/img/lite/v${n}`, bootPath: `/img/lite/v${n}/boot/firmware` });
const created = (n: number, parent: number, reason: string) =>
  event('ImageVersionCreated', { imageId: 'lite', version: n, parentVersion: parent, reason, ...v(n), changes: [], command: null });
const activated = (n: number, previous: number) =>
  event('ImageVersionActivated', { imageId: 'lite', version: n, previousVersion: previous });

describe('images projection: versions', () => {
  it("path and bootPath follow the active version; versions list every kept one; converted follows the active version's ancestry", () => {
    const s = state();
    const apply = (e: RecordedEvent) => imagesProjection.apply(s, e as never);
    apply(
      event('ImageImported', {
        imageId: 'lite',
        name: 'Lite',
        source: { kind: 'tar', path: '/srv/x.tar', sha256: null, sizeBytes: 1 },
        ...v(1),
        sizeBytes: 1,
        fileCount: 1,
        osRelease: null,
        architecture: 'arm64',
      }),
    );
    let image = s.images.get('lite')!;
    assert.deepEqual(
      [image.version, image.path, image.managed, image.converted, image.architecture],
      [1, '/img/lite/v1', true, false, 'arm64'],
    );
    apply(created(2, 1, 'convert'));
    image = s.images.get('lite')!;
    assert.equal(image.version, 1, 'a new version is not active until activated');
    assert.equal(image.versions.length, 2);
    apply(activated(2, 1));
    image = s.images.get('lite')!;
    assert.deepEqual([image.version, image.path, image.bootPath, image.converted], [2, '/img/lite/v2', '/img/lite/v2/boot/firmware', true]);
    apply(created(3, 2, 'command'));
    apply(activated(3, 2));
    assert.equal(s.images.get('lite')!.converted, true, 'a command on a converted version stays converted');
    apply(activated(1, 3));
    assert.equal(s.images.get('lite')!.converted, false);
    apply(event('ImageVersionDeleted', { imageId: 'lite', version: 2 }));
    image = s.images.get('lite')!;
    assert.deepEqual(
      image.versions.map((x) => x.version),
      [1, 3],
    );
    assert.ok(Object.isFrozen(image) && Object.isFrozen(image.versions));
  });

  it("a registered image is version 1 of the admin's folder, not managed", () => {
    const s = state();
    imagesProjection.apply(s, event('ImageRegistered', { imageId: 'os', name: 'OS', path: '/srv/os', bootPath: '/srv/os/boot' }) as never);
    const image = s.images.get('os')!;
    assert.deepEqual([image.version, image.managed, image.versions[0].reason, image.versions[0].path], [1, false, 'registered', '/srv/os']);
  });

  it("a client's booted version comes from the boot fact that names it; other facts leave it", () => {
    const s = state();
    const apply = (e: RecordedEvent) => clientsProjection.apply(s, e as never);
    apply(event('ClientDetected', { mac: 'dc:a6:32:00:00:01', serial: null, model: null, ip: null, via: 'dhcp', bootId: null }));
    apply(
      event('BootProgressed', {
        mac: 'dc:a6:32:00:00:01',
        stage: 'tftp.file-served',
        plugin: 'tftp',
        ip: null,
        detail: { file: 'start4.elf' },
      }),
    );
    assert.equal(s.clients.get('dc:a6:32:00:00:01')!.bootedImage, null);
    apply(
      event('BootProgressed', {
        mac: 'dc:a6:32:00:00:01',
        stage: 'tftp.image-version',
        plugin: 'tftp',
        ip: null,
        detail: { imageId: 'lite', imageVersion: 3 },
      }),
    );
    assert.deepEqual(s.clients.get('dc:a6:32:00:00:01')!.bootedImage, { imageId: 'lite', version: 3 });
    apply(
      event('BootProgressed', {
        mac: 'aa:bb:cc:dd:ee:ff',
        stage: 'tftp.image-version',
        plugin: 'tftp',
        ip: null,
        detail: { imageId: 'lite', imageVersion: 3 },
      }),
    );
    assert.equal(s.clients.has('aa:bb:cc:dd:ee:ff'), false, 'a fact about an unknown client creates no client');
  });
});
