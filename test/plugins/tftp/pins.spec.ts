import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ImageRecord, ImageVersionRecord } from '../../../src/core/plugin-api';
import { MAX_PINS, PIN_IDLE_MS, pinImageVersion, type VersionPin } from '../../../src/plugins/tftp/tftp.pins';

const mac = 'dc:a6:32:00:00:01';
const version = (n: number): ImageVersionRecord => ({
  version: n,
  parentVersion: n === 1 ? null : n - 1,
  reason: n === 1 ? 'imported' : 'command',
  path: `/img/lite/v${n}`,
  bootPath: `/img/lite/v${n}/boot/firmware`,
  createdAt: '',
});

function image(active: number, kept: number[], id = 'lite'): ImageRecord {
  const a = version(active);
  return {
    id,
    name: id,
    path: a.path,
    bootPath: a.bootPath,
    version: active,
    versions: kept.map(version),
    managed: true,
    architecture: null,
    osRelease: null,
    converted: false,
    registeredAt: '',
  };
}

describe('TFTP: a boot keeps the image version active at its first request', () => {
  it('a new version activated mid-boot does not reach the boot in progress', () => {
    const pins = new Map<string, VersionPin>();
    const first = pinImageVersion(pins, mac, image(1, [1]), 0);
    assert.deepEqual([first.newPin, first.image.version], [true, 1]);
    const later = pinImageVersion(pins, mac, image(2, [1, 2]), 5_000);
    assert.equal(later.newPin, false);
    assert.equal(later.image.version, 1);
    assert.equal(later.image.path, '/img/lite/v1');
    assert.equal(later.image.bootPath, '/img/lite/v1/boot/firmware');
  });

  it('each request renews the pin: a long boot of many files keeps its version', () => {
    const pins = new Map<string, VersionPin>();
    pinImageVersion(pins, mac, image(1, [1]), 0);
    for (let t = 1; t <= 5; t++) assert.equal(pinImageVersion(pins, mac, image(2, [1, 2]), t * (PIN_IDLE_MS - 1)).image.version, 1);
  });

  it('after a quiet gap, the next request is a new boot and gets the active version', () => {
    const pins = new Map<string, VersionPin>();
    pinImageVersion(pins, mac, image(1, [1]), 0);
    const reboot = pinImageVersion(pins, mac, image(2, [1, 2]), PIN_IDLE_MS + 1);
    assert.deepEqual([reboot.newPin, reboot.image.version], [true, 2]);
  });

  it('a deleted pinned version, or a different image, starts a new pin', () => {
    const pins = new Map<string, VersionPin>();
    pinImageVersion(pins, mac, image(1, [1]), 0);
    assert.deepEqual([pinImageVersion(pins, mac, image(2, [2]), 10).newPin, pins.get(mac)?.version], [true, 2]);
    const other = pinImageVersion(pins, mac, image(1, [1], 'desktop'), 20);
    assert.deepEqual([other.newPin, other.image.id], [true, 'desktop']);
  });

  it('pins are bounded: expired ones go when there are too many', () => {
    const pins = new Map<string, VersionPin>();
    for (let i = 0; i <= MAX_PINS; i++) pinImageVersion(pins, `m${i}`, image(1, [1]), 0);
    pinImageVersion(pins, 'late', image(1, [1]), PIN_IDLE_MS + 1);
    assert.equal(pins.size, 1);
  });
});
