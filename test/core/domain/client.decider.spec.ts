import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientDecider, type ClientCommand, type DetectClient } from '../../../src/core/domain/client/client.decider';
import type { ClientEvent } from '../../../src/core/domain/client/client.events';
import { decider } from '../../support/given-when-then';

const mac = 'dc:a6:32:01:36:c2';

const detect = (over: Partial<DetectClient> = {}): DetectClient => ({
  type: 'DetectClient',
  mac,
  serial: '1a2b3c4d',
  model: 'RPi4',
  ip: '192.168.1.50',
  via: 'dhcp',
  bootId: 'boot-1',
  ...over,
});

const detected: ClientEvent = {
  type: 'ClientDetected',
  data: { mac, serial: '1a2b3c4d', model: 'RPi4', ip: '192.168.1.50', via: 'dhcp', bootId: 'boot-1' },
};
const approved: ClientEvent = {
  type: 'ClientApproved',
  data: { mac, name: 'pi-01', imageId: 'bookworm', preRegistered: false },
};
const rejected: ClientEvent = { type: 'ClientRejected', data: { mac } };
const removed: ClientEvent = { type: 'ClientRemoved', data: { mac } };

const client = decider(clientDecider);

describe('client decider', () => {
  describe('DetectClient', () => {
    it('records a Pi never seen before', () => {
      client.given([]).when(detect()).then([detected]);
    });

    it('records a removed Pi as new again', () => {
      client.given([detected, approved, removed]).when(detect()).then([detected]);
    });

    it('a new boot of a known Pi is a redetection', () => {
      client
        .given([detected])
        .when(detect({ bootId: 'boot-2', ip: '192.168.1.51' }))
        .then([
          {
            type: 'ClientRedetected',
            data: { mac, serial: '1a2b3c4d', model: 'RPi4', ip: '192.168.1.51', via: 'dhcp', bootId: 'boot-2' },
          },
        ]);
    });

    it('the first detection of a pre-registered Pi is a redetection that fills in serial and model', () => {
      const preRegistered: ClientEvent = {
        type: 'ClientApproved',
        data: { mac, name: 'pi-01', imageId: null, preRegistered: true },
      };
      const then = client.given([preRegistered]).when(detect());
      assert.equal(then.events()[0].type, 'ClientRedetected');
      const state = then.state();
      assert.equal(state.status, 'approved');
      assert.ok(state.status === 'approved');
      assert.equal(state.serial, '1a2b3c4d');
      assert.equal(state.model, 'RPi4');
      assert.equal(state.lastBootId, 'boot-1');
      assert.equal(state.name, 'pi-01');
    });

    it('the same boot again produces nothing', () => {
      client.given([detected]).when(detect()).thenNothing();
    });

    it('a Pi retrying every 5 s for an hour is one event', () => {
      let past: ClientEvent[] = [];
      let produced = 0;
      for (let i = 0; i <= 720; i++) {
        const events = client.given(past).when(detect()).events();
        produced += events.length;
        past = [...past, ...events];
      }
      assert.equal(produced, 1);
      assert.deepEqual(past, [detected]);
    });

    it('a known Pi without boot id produces nothing for the same address', () => {
      client
        .given([detected])
        .when(detect({ bootId: null }))
        .thenNothing();
    });

    it('the same boot with a new address learns the address', () => {
      client
        .given([detected])
        .when(detect({ ip: '192.168.1.77' }))
        .then([{ type: 'ClientAddressLearned', data: { mac, ip: '192.168.1.77' } }]);
    });

    it('no boot id and a new address learns the address', () => {
      client
        .given([detected])
        .when(detect({ bootId: null, ip: '192.168.1.78' }))
        .then([{ type: 'ClientAddressLearned', data: { mac, ip: '192.168.1.78' } }]);
    });

    it('the same boot without an address produces nothing', () => {
      client
        .given([detected])
        .when(detect({ ip: null }))
        .thenNothing();
    });

    it('a rejected Pi booting again is still recorded once per boot', () => {
      const events = client
        .given([detected, rejected])
        .when(detect({ bootId: 'boot-9' }))
        .events();
      assert.equal(events.length, 1);
      assert.equal(events[0].type, 'ClientRedetected');
      assert.equal(
        client
          .given([detected, rejected, ...events])
          .when(detect({ bootId: 'boot-9' }))
          .events().length,
        0,
      );
    });

    it('normalises the serial to lower case', () => {
      const [event] = client
        .given([])
        .when(detect({ serial: '1A2B3C4D' }))
        .events();
      assert.equal(event.type, 'ClientDetected');
      assert.equal((event.data as { serial: string }).serial, '1a2b3c4d');
    });

    it('rejects a MAC that is not normalised', () => {
      client
        .given([])
        .when(detect({ mac: 'DC-A6-32-01-36-C2' }))
        .thenThrows('VALIDATION', 'mac');
    });

    it('rejects an address that is not IPv4', () => {
      client
        .given([])
        .when(detect({ ip: '300.1.1.1' }))
        .thenThrows('VALIDATION', 'ip');
    });

    it('rejects a serial that could name another folder', () => {
      client
        .given([])
        .when(detect({ serial: '../etc' }))
        .thenThrows('VALIDATION', 'serial');
    });

    it('rejects an empty detection source', () => {
      client
        .given([])
        .when(detect({ via: ' ' }))
        .thenThrows('VALIDATION', 'via');
    });

    it('keeps the serial and address of the state when a redetection does not carry them', () => {
      const state = client
        .given([detected])
        .when(detect({ bootId: 'boot-2', serial: null, ip: null }))
        .state();
      assert.ok(state.status === 'pending');
      assert.equal(state.serial, '1a2b3c4d');
      assert.equal(state.ip, '192.168.1.50');
      assert.equal(state.lastBootId, 'boot-2');
    });
  });

  describe('LearnClientAddress', () => {
    const learn = (ip: string): ClientCommand => ({ type: 'LearnClientAddress', mac, ip });

    it('learns a new address', () => {
      client
        .given([detected])
        .when(learn('10.0.0.9'))
        .then([{ type: 'ClientAddressLearned', data: { mac, ip: '10.0.0.9' } }]);
    });

    it('the same address produces nothing', () => {
      client.given([detected]).when(learn('192.168.1.50')).thenNothing();
    });

    it('an unknown client is not found', () => {
      client.given([]).when(learn('10.0.0.9')).thenThrows('CLIENT_NOT_FOUND', 'mac');
    });

    it('a removed client is not found', () => {
      client.given([detected, removed]).when(learn('10.0.0.9')).thenThrows('CLIENT_NOT_FOUND');
    });

    it('rejects an invalid address', () => {
      client.given([detected]).when(learn('10.0.0')).thenThrows('VALIDATION', 'ip');
    });
  });

  describe('ApproveClient', () => {
    const approve = (name: string | null, imageId: string | null): ClientCommand => ({
      type: 'ApproveClient',
      mac,
      name,
      imageId,
    });

    it('approves a detected client', () => {
      client.given([detected]).when(approve('pi-01', 'bookworm')).then([approved]);
    });

    it('approves a rejected client', () => {
      client.given([detected, rejected]).when(approve('pi-01', 'bookworm')).then([approved]);
    });

    it('pre-registers a client never seen', () => {
      client
        .given([])
        .when(approve('pi-02', null))
        .then([{ type: 'ClientApproved', data: { mac, name: 'pi-02', imageId: null, preRegistered: true } }]);
    });

    it('pre-registers a removed client', () => {
      client
        .given([detected, approved, removed])
        .when(approve(null, null))
        .then([{ type: 'ClientApproved', data: { mac, name: null, imageId: null, preRegistered: true } }]);
    });

    it('keeps the name and image a pending client already has when none is given', () => {
      const renamed: ClientEvent = { type: 'ClientRenamed', data: { mac, name: 'kept' } };
      const assigned: ClientEvent = { type: 'ClientImageAssigned', data: { mac, imageId: 'img-1' } };
      client
        .given([detected, renamed, assigned])
        .when(approve(null, null))
        .then([{ type: 'ClientApproved', data: { mac, name: 'kept', imageId: 'img-1', preRegistered: false } }]);
    });

    it('approving an approved client with the same values produces nothing', () => {
      client.given([detected, approved]).when(approve('pi-01', 'bookworm')).thenNothing();
    });

    it('approving an approved client without values produces nothing', () => {
      client.given([detected, approved]).when(approve(null, null)).thenNothing();
    });

    it('approving an approved client with a new name renames it', () => {
      client
        .given([detected, approved])
        .when(approve('pi-99', null))
        .then([{ type: 'ClientRenamed', data: { mac, name: 'pi-99' } }]);
    });

    it('approving an approved client with a new image assigns it', () => {
      client
        .given([detected, approved])
        .when(approve('pi-01', 'trixie'))
        .then([{ type: 'ClientImageAssigned', data: { mac, imageId: 'trixie' } }]);
    });

    it('approving an approved client with both new renames and assigns', () => {
      client
        .given([detected, approved])
        .when(approve('pi-99', 'trixie'))
        .then([
          { type: 'ClientRenamed', data: { mac, name: 'pi-99' } },
          { type: 'ClientImageAssigned', data: { mac, imageId: 'trixie' } },
        ]);
    });

    it('rejects a name that is not a hostname', () => {
      client.given([detected]).when(approve('pi_01', null)).thenThrows('VALIDATION', 'name');
      client.given([detected]).when(approve('-pi', null)).thenThrows('VALIDATION', 'name');
    });

    it('rejects a malformed image id', () => {
      client.given([detected]).when(approve(null, '../x')).thenThrows('VALIDATION', 'imageId');
    });

    it('the approved state carries name, image and the detection facts', () => {
      const state = client.given([detected]).when(approve('pi-01', 'bookworm')).state();
      assert.deepEqual(state, {
        status: 'approved',
        mac,
        name: 'pi-01',
        imageId: 'bookworm',
        serial: '1a2b3c4d',
        model: 'RPi4',
        ip: '192.168.1.50',
        configTxt: '',
        cmdlineArgs: '',
        lastBootId: 'boot-1',
      });
    });
  });

  describe('RejectClient', () => {
    const reject: ClientCommand = { type: 'RejectClient', mac };

    it('rejects a pending client', () => {
      client.given([detected]).when(reject).then([rejected]);
    });

    it('rejects an approved client', () => {
      client.given([detected, approved]).when(reject).then([rejected]);
    });

    it('rejecting a rejected client produces nothing', () => {
      client.given([detected, rejected]).when(reject).thenNothing();
    });

    it('an unknown client is not found', () => {
      client.given([]).when(reject).thenThrows('CLIENT_NOT_FOUND');
    });
  });

  describe('RenameClient', () => {
    const rename = (name: string): ClientCommand => ({ type: 'RenameClient', mac, name });

    it('renames', () => {
      client
        .given([detected])
        .when(rename('lab-3'))
        .then([{ type: 'ClientRenamed', data: { mac, name: 'lab-3' } }]);
    });

    it('the same name produces nothing', () => {
      client.given([detected, approved]).when(rename('pi-01')).thenNothing();
    });

    it('an unknown client is not found', () => {
      client.given([]).when(rename('lab-3')).thenThrows('CLIENT_NOT_FOUND');
    });

    it('rejects a name longer than a DNS label', () => {
      client
        .given([detected])
        .when(rename('a'.repeat(64)))
        .thenThrows('VALIDATION', 'name');
    });
  });

  describe('AssignImage', () => {
    const assign = (imageId: string | null): ClientCommand => ({ type: 'AssignImage', mac, imageId });

    it('assigns an image', () => {
      client
        .given([detected])
        .when(assign('bookworm'))
        .then([{ type: 'ClientImageAssigned', data: { mac, imageId: 'bookworm' } }]);
    });

    it('unassigns with null', () => {
      client
        .given([detected, approved])
        .when(assign(null))
        .then([{ type: 'ClientImageAssigned', data: { mac, imageId: null } }]);
    });

    it('the same image produces nothing', () => {
      client.given([detected, approved]).when(assign('bookworm')).thenNothing();
    });

    it('null when there is no image produces nothing', () => {
      client.given([detected]).when(assign(null)).thenNothing();
    });

    it('an unknown client is not found', () => {
      client.given([]).when(assign('bookworm')).thenThrows('CLIENT_NOT_FOUND');
    });
  });

  describe('SetClientBootConfig', () => {
    const set = (configTxt: string, cmdlineArgs: string): ClientCommand => ({
      type: 'SetClientBootConfig',
      mac,
      configTxt,
      cmdlineArgs,
    });

    it('normalises line endings and trailing whitespace', () => {
      client
        .given([detected])
        .when(set('dtoverlay=vc4-kms-v3d\r\nhdmi_force_hotplug=1\r\n\r\n  ', '  quiet splash '))
        .then([
          {
            type: 'ClientBootConfigChanged',
            data: { mac, configTxt: 'dtoverlay=vc4-kms-v3d\nhdmi_force_hotplug=1', cmdlineArgs: 'quiet splash' },
          },
        ]);
    });

    it('the same config (after normalising) produces nothing', () => {
      const changed: ClientEvent = {
        type: 'ClientBootConfigChanged',
        data: { mac, configTxt: 'a=1\nb=2', cmdlineArgs: 'quiet' },
      };
      client.given([detected, changed]).when(set('a=1\r\nb=2\n', 'quiet')).thenNothing();
    });

    it('empty config on a new client produces nothing', () => {
      client.given([detected]).when(set('', '')).thenNothing();
    });

    it('an unknown client is not found', () => {
      client.given([]).when(set('a=1', '')).thenThrows('CLIENT_NOT_FOUND');
    });

    it('rejects kernel arguments on more than one line', () => {
      client.given([detected]).when(set('', 'quiet\ninit=/bin/sh')).thenThrows('VALIDATION', 'cmdlineArgs');
      client.given([detected]).when(set('', 'quiet\rinit=/bin/sh')).thenThrows('VALIDATION', 'cmdlineArgs');
    });

    it('rejects kernel arguments longer than 1024 characters', () => {
      assert.equal(
        client
          .given([detected])
          .when(set('', 'x'.repeat(1024)))
          .events().length,
        1,
      );
      client
        .given([detected])
        .when(set('', 'x'.repeat(1025)))
        .thenThrows('VALIDATION', 'cmdlineArgs');
    });

    it('rejects config.txt longer than 16384 characters', () => {
      assert.equal(
        client
          .given([detected])
          .when(set('x'.repeat(16384), ''))
          .events().length,
        1,
      );
      client
        .given([detected])
        .when(set('x'.repeat(16385), ''))
        .thenThrows('VALIDATION', 'configTxt');
    });

    it('rejects NUL in config.txt', () => {
      client.given([detected]).when(set('a=1\0', '')).thenThrows('VALIDATION', 'configTxt');
    });

    it('the state keeps the boot config', () => {
      const state = client.given([detected]).when(set('a=1', 'quiet')).state();
      assert.ok(state.status === 'pending');
      assert.equal(state.configTxt, 'a=1');
      assert.equal(state.cmdlineArgs, 'quiet');
    });
  });

  describe('RemoveClient', () => {
    const remove: ClientCommand = { type: 'RemoveClient', mac };

    it('removes a known client', () => {
      client.given([detected, approved]).when(remove).then([removed]);
    });

    it('an unknown client is not found', () => {
      client.given([]).when(remove).thenThrows('CLIENT_NOT_FOUND');
    });

    it('a removed client is not found', () => {
      client.given([detected, removed]).when(remove).thenThrows('CLIENT_NOT_FOUND');
    });

    it('forgets everything: a removed client detected again starts over', () => {
      const renamed: ClientEvent = { type: 'ClientRenamed', data: { mac, name: 'old' } };
      const state = client
        .given([detected, approved, renamed, removed])
        .when(detect({ bootId: 'b2' }))
        .state();
      assert.ok(state.status === 'pending');
      assert.equal(state.name, null);
      assert.equal(state.imageId, null);
    });
  });

  describe('evolve', () => {
    it('ignores unknown events', () => {
      const state = client.given([detected, { type: 'SomethingElse', data: { mac } }]).state();
      assert.equal(state.status, 'pending');
    });

    it('starts unknown', () => {
      assert.deepEqual(clientDecider.initialState(), { status: 'unknown' });
    });
  });
});
