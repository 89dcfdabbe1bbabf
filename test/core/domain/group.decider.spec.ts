import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gidSequenceDecider, groupDecider, type GroupCommand } from '../../../src/core/domain/group/group.decider';
import { FIRST_GID_NUMBER, type GroupEvent } from '../../../src/core/domain/group/group.events';
import { decider } from '../../support/given-when-then';

const group = decider(groupDecider);
const name = 'robotics';
const created: GroupEvent = { type: 'GroupCreated', data: { name, gidNumber: 10003 } };
const withAliceBob: GroupEvent = {
  type: 'GroupMembersChanged',
  data: { name, members: ['alice', 'bob'], added: ['bob', 'alice'], removed: [] },
};
const change = (add: string[], remove: string[] = []): GroupCommand => ({ type: 'ChangeGroupMembers', name, add, remove });

describe('group decider', () => {
  describe('CreateGroup', () => {
    const create = (over: Partial<{ name: string; gidNumber: number }> = {}): GroupCommand => ({
      type: 'CreateGroup',
      name,
      gidNumber: 10003,
      ...over,
    });

    it('creates a group', () => {
      group.given([]).when(create()).then([created]);
    });

    it('an existing group cannot be created again', () => {
      group.given([created]).when(create()).thenThrows('GROUP_EXISTS', 'name');
    });

    it('a deleted group can be created again', () => {
      group
        .given([created, { type: 'GroupDeleted', data: { name } }])
        .when(create())
        .then([created]);
    });

    it('the name follows the username rule', () => {
      group
        .given([])
        .when(create({ name: 'Robotics' }))
        .thenThrows('VALIDATION', 'name');
      group
        .given([])
        .when(create({ name: '9lab' }))
        .thenThrows('VALIDATION', 'name');
    });

    it('rejects a system gid (sudo is 27)', () => {
      group
        .given([])
        .when(create({ gidNumber: 27 }))
        .thenThrows('VALIDATION', 'gidNumber');
      group
        .given([])
        .when(create({ gidNumber: -1 }))
        .thenThrows('VALIDATION', 'gidNumber');
    });

    it("refuses a group of the Pi's own OS, by name or prefix, naming the reason", () => {
      for (const reserved of ['sudo', 'adm', 'video', 'gpio', 'lpadmin', 'render', 'systemd-journal', '_ssh']) {
        const error = group
          .given([])
          .when(create({ name: reserved }))
          .thenThrows('VALIDATION', 'name');
        assert.match(error.message, /^name: reserved: a system account of the Pi's OS \(/, reserved);
      }
    });

    it('a new group has no members', () => {
      const state = group.given([]).when(create()).state();
      assert.deepEqual(state, { status: 'active', name, gidNumber: 10003, members: [] });
    });
  });

  describe('ChangeGroupMembers', () => {
    it('adds members, listing all members sorted', () => {
      group
        .given([created, withAliceBob])
        .when(change(['zoe', 'carol']))
        .then([
          {
            type: 'GroupMembersChanged',
            data: { name, members: ['alice', 'bob', 'carol', 'zoe'], added: ['zoe', 'carol'], removed: [] },
          },
        ]);
    });

    it('removes members', () => {
      group
        .given([created, withAliceBob])
        .when(change([], ['alice']))
        .then([{ type: 'GroupMembersChanged', data: { name, members: ['bob'], added: [], removed: ['alice'] } }]);
    });

    it('adds and removes at once, reporting only what changed', () => {
      group
        .given([created, withAliceBob])
        .when(change(['alice', 'carol', 'carol'], ['bob', 'nobody']))
        .then([{ type: 'GroupMembersChanged', data: { name, members: ['alice', 'carol'], added: ['carol'], removed: ['bob'] } }]);
    });

    it('adding members already there and removing members not there produces nothing', () => {
      group
        .given([created, withAliceBob])
        .when(change(['alice'], ['carol']))
        .thenNothing();
    });

    it('an empty change produces nothing', () => {
      group.given([created]).when(change([], [])).thenNothing();
    });

    it('the same user both added and removed is an error', () => {
      group
        .given([created])
        .when(change(['alice'], ['alice']))
        .thenThrows('VALIDATION', 'add');
    });

    it('rejects an invalid username', () => {
      group
        .given([created])
        .when(change(['Alice']))
        .thenThrows('VALIDATION', 'add');
      group
        .given([created])
        .when(change([], ['a b']))
        .thenThrows('VALIDATION', 'remove');
    });

    it('an unknown group is not found', () => {
      group
        .given([])
        .when(change(['alice']))
        .thenThrows('GROUP_NOT_FOUND', 'name');
    });

    it('a deleted group is not found', () => {
      group
        .given([created, { type: 'GroupDeleted', data: { name } }])
        .when(change(['alice']))
        .thenThrows('GROUP_NOT_FOUND');
    });

    it('the state holds the members', () => {
      const state = group
        .given([created, withAliceBob])
        .when(change(['carol'], ['alice']))
        .state();
      assert.ok(state.status === 'active');
      assert.deepEqual(state.members, ['bob', 'carol']);
    });
  });

  describe('DeleteGroup', () => {
    const del: GroupCommand = { type: 'DeleteGroup', name };

    it('deletes an empty group', () => {
      group
        .given([created])
        .when(del)
        .then([{ type: 'GroupDeleted', data: { name } }]);
    });

    it('deletes a group emptied earlier', () => {
      const emptied: GroupEvent = {
        type: 'GroupMembersChanged',
        data: { name, members: [], added: [], removed: ['alice', 'bob'] },
      };
      group
        .given([created, withAliceBob, emptied])
        .when(del)
        .then([{ type: 'GroupDeleted', data: { name } }]);
    });

    it('a group with members cannot be deleted', () => {
      const error = group.given([created, withAliceBob]).when(del).thenThrows('GROUP_NOT_EMPTY');
      assert.match(error.message, /2 member/);
    });

    it('an unknown group is not found', () => {
      group.given([]).when(del).thenThrows('GROUP_NOT_FOUND');
    });

    it('a deleted group is not found', () => {
      group
        .given([created, { type: 'GroupDeleted', data: { name } }])
        .when(del)
        .thenThrows('GROUP_NOT_FOUND');
    });
  });

  describe('a group stored before its name was reserved', () => {
    const video = 'video';
    const legacy: GroupEvent = { type: 'GroupCreated', data: { name: video, gidNumber: 10009 } };
    const withPi: GroupEvent = { type: 'GroupMembersChanged', data: { name: video, members: ['pi'], added: ['pi'], removed: [] } };

    it('still replays', () => {
      assert.deepEqual(group.given([legacy, withPi]).state(), { status: 'active', name: video, gidNumber: 10009, members: ['pi'] });
    });

    it('still takes and loses members (the membership manager follows stored users, `pi` included), and can be deleted', () => {
      group
        .given([legacy, withPi])
        .when({ type: 'ChangeGroupMembers', name: video, add: ['alice'], remove: ['pi'] })
        .then([{ type: 'GroupMembersChanged', data: { name: video, members: ['alice'], added: ['alice'], removed: ['pi'] } }]);
      group
        .given([legacy])
        .when({ type: 'DeleteGroup', name: video })
        .then([{ type: 'GroupDeleted', data: { name: video } }]);
    });

    it('once deleted, cannot be created again', () => {
      group
        .given([legacy, { type: 'GroupDeleted', data: { name: video } }])
        .when({ type: 'CreateGroup', name: video, gidNumber: 10010 })
        .thenThrows('VALIDATION', 'name');
    });
  });

  it('evolve ignores unknown events', () => {
    assert.equal(group.given([created, { type: 'Whatever', data: {} }]).state().status, 'active');
  });
});

describe('gid sequence decider', () => {
  const seq = decider(gidSequenceDecider);
  const allocate = (n: string) => ({ type: 'AllocateGid' as const, name: n });

  it('hands out FIRST_GID_NUMBER first', () => {
    assert.equal(FIRST_GID_NUMBER, 10000);
    seq
      .given([])
      .when(allocate('pupils'))
      .then([{ type: 'GidNumberAllocated', data: { gidNumber: 10000, name: 'pupils' } }]);
  });

  it('hands out the next number, never reusing one', () => {
    seq
      .given([
        { type: 'GidNumberAllocated', data: { gidNumber: 10000, name: 'pupils' } },
        { type: 'GidNumberAllocated', data: { gidNumber: 10001, name: 'teachers' } },
      ])
      .when(allocate('pupils'))
      .then([{ type: 'GidNumberAllocated', data: { gidNumber: 10002, name: 'pupils' } }]);
  });

  it('never goes back after a higher number', () => {
    assert.deepEqual(
      seq
        .given([
          { type: 'GidNumberAllocated', data: { gidNumber: 15000, name: 'a' } },
          { type: 'GidNumberAllocated', data: { gidNumber: 10001, name: 'b' } },
        ])
        .state(),
      { next: 15001 },
    );
  });

  it('rejects an invalid group name', () => {
    seq.given([]).when(allocate('Bad')).thenThrows('VALIDATION', 'name');
  });
});
