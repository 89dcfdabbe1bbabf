import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { imageDecider, type ImageCommand } from '../../../src/core/domain/image/image.decider';
import type { ImageEvent } from '../../../src/core/domain/image/image.events';
import { decider } from '../../support/given-when-then';

const image = decider(imageDecider);
const imageId = 'bookworm-lite';
const register = (over: Partial<Extract<ImageCommand, { type: 'RegisterImage' }>> = {}): ImageCommand => ({
  type: 'RegisterImage',
  imageId,
  name: 'Bookworm Lite',
  path: '/srv/bramble/images/bookworm',
  bootPath: '/srv/bramble/images/bookworm/boot/firmware',
  ...over,
});
const registered: ImageEvent = {
  type: 'ImageRegistered',
  data: {
    imageId,
    name: 'Bookworm Lite',
    path: '/srv/bramble/images/bookworm',
    bootPath: '/srv/bramble/images/bookworm/boot/firmware',
  },
};
const deleted: ImageEvent = { type: 'ImageDeleted', data: { imageId } };

describe('image decider', () => {
  describe('RegisterImage', () => {
    it('registers an image', () => {
      image.given([]).when(register()).then([registered]);
    });

    it('trims the name', () => {
      image
        .given([])
        .when(register({ name: '  Bookworm Lite ' }))
        .then([registered]);
    });

    it('an existing image cannot be registered again', () => {
      image.given([registered]).when(register()).thenThrows('IMAGE_EXISTS', 'imageId');
    });

    it('a deleted image id can be registered again', () => {
      image.given([registered, deleted]).when(register()).then([registered]);
    });

    it('rejects an empty name', () => {
      image
        .given([])
        .when(register({ name: '   ' }))
        .thenThrows('VALIDATION', 'name');
    });

    it('accepts a 64-character name and rejects 65', () => {
      assert.equal(
        image
          .given([])
          .when(register({ name: 'n'.repeat(64) }))
          .events().length,
        1,
      );
      image
        .given([])
        .when(register({ name: 'n'.repeat(65) }))
        .thenThrows('VALIDATION', 'name');
    });

    it('rejects control characters in the name', () => {
      image
        .given([])
        .when(register({ name: 'Book\u0007worm' }))
        .thenThrows('VALIDATION', 'name');
    });

    it('rejects a relative path', () => {
      image
        .given([])
        .when(register({ path: 'images/bookworm' }))
        .thenThrows('VALIDATION', 'path');
    });

    it('rejects a relative boot path', () => {
      image
        .given([])
        .when(register({ bootPath: 'boot' }))
        .thenThrows('VALIDATION', 'bootPath');
    });

    it('rejects a boot path outside the image', () => {
      image
        .given([])
        .when(register({ bootPath: '/srv/bramble/images/bookworm2/boot' }))
        .thenThrows('VALIDATION', 'bootPath');
    });

    it('rejects an image id that is unsafe in a stream name or path', () => {
      image
        .given([])
        .when(register({ imageId: '../x' }))
        .thenThrows('VALIDATION', 'imageId');
      image
        .given([])
        .when(register({ imageId: '' }))
        .thenThrows('VALIDATION', 'imageId');
    });
  });

  describe('RenameImage', () => {
    const rename = (name: string): ImageCommand => ({ type: 'RenameImage', imageId, name });

    it('renames', () => {
      image
        .given([registered])
        .when(rename('Lab image'))
        .then([{ type: 'ImageRenamed', data: { imageId, name: 'Lab image' } }]);
    });

    it('the same name produces nothing', () => {
      image.given([registered]).when(rename('Bookworm Lite')).thenNothing();
    });

    it('an unknown image is not found', () => {
      image.given([]).when(rename('x')).thenThrows('IMAGE_NOT_FOUND', 'imageId');
    });

    it('a deleted image is not found', () => {
      image.given([registered, deleted]).when(rename('x')).thenThrows('IMAGE_NOT_FOUND');
    });

    it('the state has the new name', () => {
      const state = image.given([registered]).when(rename('Lab image')).state();
      assert.ok(state.status === 'registered');
      assert.equal(state.name, 'Lab image');
    });
  });

  describe('DeleteImage', () => {
    const del = (usedBy: string[]): ImageCommand => ({ type: 'DeleteImage', imageId, usedBy });

    it('deletes an unused image', () => {
      image.given([registered]).when(del([])).then([deleted]);
    });

    it('an image in use cannot be deleted, and the message names the clients', () => {
      const error = image
        .given([registered])
        .when(del(['dc:a6:32:01:36:c2', 'dc:a6:32:01:36:c3']))
        .thenThrows('IMAGE_IN_USE');
      assert.match(error.message, /dc:a6:32:01:36:c2/);
      assert.match(error.message, /dc:a6:32:01:36:c3/);
    });

    it('an unknown image is not found', () => {
      image.given([]).when(del([])).thenThrows('IMAGE_NOT_FOUND');
    });

    it('a deleted image is not found', () => {
      image.given([registered, deleted]).when(del([])).thenThrows('IMAGE_NOT_FOUND');
    });
  });

  it('evolve ignores unknown events', () => {
    const state = image.given([registered, { type: 'Unrelated', data: {} }]).state();
    assert.equal(state.status, 'registered');
  });
});
