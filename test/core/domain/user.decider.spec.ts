import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  USERNAME_PATTERN,
  uidSequenceDecider,
  userDecider,
  validateUsername,
  type CreateUser,
  type UserCommand,
} from '../../../src/core/domain/user/user.decider';
import { FIRST_UID_NUMBER, type UserEvent } from '../../../src/core/domain/user/user.events';
import { assertDomainError, decider } from '../../support/given-when-then';

const user = decider(userDecider);
const username = 'alice';
const hashA = '{CRYPT}$2b$04$abcdefghijklmnopqrstuu5vxBz4IvTtG5BEJ3y0eSTzD8CDVhk3e';
const hashB = '{CRYPT}$2b$04$zyxwvutsrqponmlkjihgfe1E8d2ZtXfX0gAJXTPoBd0wQMkUtQy1W';

const create = (over: Partial<CreateUser> = {}): CreateUser => ({
  type: 'CreateUser',
  username,
  uidNumber: 10000,
  gidNumber: 10000,
  fullName: 'Alice Liddell',
  groups: ['pupils'],
  passwordHash: hashA,
  ...over,
});
const created: UserEvent = {
  type: 'UserCreated',
  data: {
    username,
    uidNumber: 10000,
    gidNumber: 10000,
    fullName: 'Alice Liddell',
    groups: ['pupils'],
    passwordHash: hashA,
  },
};
const disabled: UserEvent = { type: 'UserDisabled', data: { username } };
const deleted: UserEvent = { type: 'UserDeleted', data: { username } };

describe('usernames', () => {
  for (const name of ['alice', '_svc', 'a', 'bob.smith', 'x-1_y', 'a'.repeat(32)]) {
    it(`accepts ${name}`, () => {
      assert.ok(USERNAME_PATTERN.test(name));
      validateUsername(name);
    });
  }
  for (const name of ['', 'Alice', '1alice', '-bob', '.bob', 'bob smith', 'bob:x', 'a'.repeat(33), 'zoë']) {
    it(`rejects ${JSON.stringify(name)}`, () => {
      assertDomainError(() => validateUsername(name), 'VALIDATION', 'username');
    });
  }
});

describe('user decider', () => {
  describe('CreateUser', () => {
    it('creates a user', () => {
      user.given([]).when(create()).then([created]);
    });

    it('an existing user cannot be created again', () => {
      user.given([created]).when(create()).thenThrows('USER_EXISTS', 'username');
    });

    it('a disabled user still exists', () => {
      user.given([created, disabled]).when(create()).thenThrows('USER_EXISTS');
    });

    it('a deleted user can be created again', () => {
      user
        .given([created, deleted])
        .when(create({ uidNumber: 10007 }))
        .then([{ type: 'UserCreated', data: { ...created.data, uidNumber: 10007 } as never }]);
    });

    it('drops duplicate groups and keeps their order', () => {
      const [event] = user
        .given([])
        .when(create({ groups: ['teachers', 'pupils', 'teachers', 'lab'] }))
        .events();
      assert.deepEqual((event.data as { groups: string[] }).groups, ['teachers', 'pupils', 'lab']);
    });

    it('trims the full name; an empty one is allowed', () => {
      const [a] = user
        .given([])
        .when(create({ fullName: '  Alice  ' }))
        .events();
      assert.equal((a.data as { fullName: string }).fullName, 'Alice');
      const [b] = user
        .given([])
        .when(create({ fullName: '' }))
        .events();
      assert.equal((b.data as { fullName: string }).fullName, '');
    });

    it('rejects an invalid username', () => {
      user
        .given([])
        .when(create({ username: 'Alice' }))
        .thenThrows('VALIDATION', 'username');
    });

    it("refuses a username of the Pi's own OS, by name or prefix, naming the reason", () => {
      for (const reserved of ['pi', 'root', 'rpi-first-boot-wizard', 'lightdm', 'nslcd', 'systemd-network', '_apt', '_svc']) {
        const error = user
          .given([])
          .when(create({ username: reserved }))
          .thenThrows('VALIDATION', 'username');
        assert.match(error.message, /^username: reserved: a system account of the Pi's OS \(/, reserved);
      }
    });

    it("refuses a group of the Pi's own OS in groups (a directory user is never put in sudo, adm, video...)", () => {
      for (const reserved of ['sudo', 'adm', 'disk', 'video', 'gpio', 'i2c', 'spi', 'plugdev', 'input', 'systemd-journal']) {
        const error = user
          .given([])
          .when(create({ groups: ['pupils', reserved] }))
          .thenThrows('VALIDATION', 'groups');
        assert.ok(error.message.includes(`(\`${reserved}\`)`) || error.message.includes('names starting with'), error.message);
      }
    });

    it('rejects a full name with a colon (it would break the passwd line)', () => {
      user
        .given([])
        .when(create({ fullName: 'Alice: admin' }))
        .thenThrows('VALIDATION', 'fullName');
    });

    it('rejects a full name with control characters', () => {
      user
        .given([])
        .when(create({ fullName: 'Alice\nLiddell' }))
        .thenThrows('VALIDATION', 'fullName');
    });

    it('accepts 128 characters of full name and rejects 129', () => {
      assert.equal(
        user
          .given([])
          .when(create({ fullName: 'é'.repeat(128) }))
          .events().length,
        1,
      );
      user
        .given([])
        .when(create({ fullName: 'é'.repeat(129) }))
        .thenThrows('VALIDATION', 'fullName');
    });

    it('rejects an invalid group name', () => {
      user
        .given([])
        .when(create({ groups: ['pupils', 'Bad Group'] }))
        .thenThrows('VALIDATION', 'groups');
    });

    it('rejects a plaintext password in place of the hash', () => {
      const error = user
        .given([])
        .when(create({ passwordHash: 'hunter2hunter2' }))
        .thenThrows('VALIDATION', 'passwordHash');
      assert.doesNotMatch(error.message, /hunter2/);
    });

    it('rejects uid 0 and system uids', () => {
      user
        .given([])
        .when(create({ uidNumber: 0 }))
        .thenThrows('VALIDATION', 'uidNumber');
      user
        .given([])
        .when(create({ uidNumber: 999 }))
        .thenThrows('VALIDATION', 'uidNumber');
      user
        .given([])
        .when(create({ uidNumber: 10.5 }))
        .thenThrows('VALIDATION', 'uidNumber');
    });

    it('rejects a system primary group but allows users (100)', () => {
      user
        .given([])
        .when(create({ gidNumber: 0 }))
        .thenThrows('VALIDATION', 'gidNumber');
      user
        .given([])
        .when(create({ gidNumber: 27 }))
        .thenThrows('VALIDATION', 'gidNumber');
      assert.equal(
        user
          .given([])
          .when(create({ gidNumber: 100 }))
          .events().length,
        1,
      );
    });
  });

  describe('ChangeUserPassword', () => {
    const change = (passwordHash: string): UserCommand => ({ type: 'ChangeUserPassword', username, passwordHash });

    it('changes the password hash', () => {
      user
        .given([created])
        .when(change(hashB))
        .then([{ type: 'UserPasswordChanged', data: { username, passwordHash: hashB } }]);
    });

    it('the same hash produces nothing', () => {
      user.given([created]).when(change(hashA)).thenNothing();
    });

    it('a disabled user can get a new password', () => {
      assert.equal(user.given([created, disabled]).when(change(hashB)).events().length, 1);
    });

    it('an unknown user is not found', () => {
      user.given([]).when(change(hashB)).thenThrows('USER_NOT_FOUND', 'username');
    });

    it('a deleted user is not found', () => {
      user.given([created, deleted]).when(change(hashB)).thenThrows('USER_NOT_FOUND');
    });

    it('rejects a value that is not a {CRYPT} hash', () => {
      user.given([created]).when(change('$2b$04$abcdefghijklmnopqrstuu')).thenThrows('VALIDATION', 'passwordHash');
    });

    it('the state holds the new hash', () => {
      const state = user.given([created]).when(change(hashB)).state();
      assert.ok(state.status === 'active');
      assert.equal(state.passwordHash, hashB);
    });
  });

  describe('ChangeUserGroups', () => {
    const change = (groups: string[]): UserCommand => ({ type: 'ChangeUserGroups', username, groups });

    it('changes the groups', () => {
      user
        .given([created])
        .when(change(['pupils', 'robotics']))
        .then([{ type: 'UserGroupsChanged', data: { username, groups: ['pupils', 'robotics'] } }]);
    });

    it('the same set in another order or with duplicates produces nothing', () => {
      const twoGroups: UserEvent = { type: 'UserGroupsChanged', data: { username, groups: ['pupils', 'lab'] } };
      user
        .given([created, twoGroups])
        .when(change(['lab', 'pupils', 'lab']))
        .thenNothing();
    });

    it('removes every group', () => {
      user
        .given([created])
        .when(change([]))
        .then([{ type: 'UserGroupsChanged', data: { username, groups: [] } }]);
    });

    it('an unknown user is not found', () => {
      user
        .given([])
        .when(change(['pupils']))
        .thenThrows('USER_NOT_FOUND');
    });

    it('rejects an invalid group name', () => {
      user
        .given([created])
        .when(change(['../x']))
        .thenThrows('VALIDATION', 'groups');
    });
  });

  describe('a user stored before its name was reserved', () => {
    const pi = 'pi';
    const legacy: UserEvent = {
      type: 'UserCreated',
      data: { username: pi, uidNumber: 10004, gidNumber: 10000, fullName: 'Old Pi', groups: ['pupils', 'video'], passwordHash: hashA },
    };

    it('still replays, reserved group included', () => {
      const state = user.given([legacy]).state();
      assert.ok(state.status === 'active');
      assert.equal(state.username, pi);
      assert.deepEqual(state.groups, ['pupils', 'video']);
    });

    it('can be disabled, get a new password and be deleted', () => {
      user
        .given([legacy])
        .when({ type: 'DisableUser', username: pi })
        .then([{ type: 'UserDisabled', data: { username: pi } }]);
      user
        .given([legacy])
        .when({ type: 'ChangeUserPassword', username: pi, passwordHash: hashB })
        .then([{ type: 'UserPasswordChanged', data: { username: pi, passwordHash: hashB } }]);
      user
        .given([legacy])
        .when({ type: 'DeleteUser', username: pi })
        .then([{ type: 'UserDeleted', data: { username: pi } }]);
    });

    it('can leave the reserved group, but not be put (back) in one', () => {
      user
        .given([legacy])
        .when({ type: 'ChangeUserGroups', username: pi, groups: ['pupils'] })
        .then([{ type: 'UserGroupsChanged', data: { username: pi, groups: ['pupils'] } }]);
      user
        .given([legacy])
        .when({ type: 'ChangeUserGroups', username: pi, groups: ['video', 'pupils'] })
        .thenThrows('VALIDATION', 'groups');
    });

    it('once deleted, cannot be created again', () => {
      user
        .given([legacy, { type: 'UserDeleted', data: { username: pi } }])
        .when(create({ username: pi }))
        .thenThrows('VALIDATION', 'username');
    });
  });

  describe('ChangeUserFullName', () => {
    const change = (fullName: string): UserCommand => ({ type: 'ChangeUserFullName', username, fullName });

    it('changes the full name', () => {
      user
        .given([created])
        .when(change('Alice L.'))
        .then([{ type: 'UserFullNameChanged', data: { username, fullName: 'Alice L.' } }]);
    });

    it('the same name (after trimming) produces nothing', () => {
      user.given([created]).when(change(' Alice Liddell ')).thenNothing();
    });

    it('an unknown user is not found', () => {
      user.given([]).when(change('x')).thenThrows('USER_NOT_FOUND');
    });

    it('rejects a colon', () => {
      user.given([created]).when(change('a:b')).thenThrows('VALIDATION', 'fullName');
    });
  });

  describe('DisableUser and EnableUser', () => {
    const disable: UserCommand = { type: 'DisableUser', username };
    const enable: UserCommand = { type: 'EnableUser', username };

    it('disables an active user', () => {
      user.given([created]).when(disable).then([disabled]);
    });

    it('disabling a disabled user produces nothing', () => {
      user.given([created, disabled]).when(disable).thenNothing();
    });

    it('enables a disabled user', () => {
      user
        .given([created, disabled])
        .when(enable)
        .then([{ type: 'UserEnabled', data: { username } }]);
    });

    it('enabling an enabled user produces nothing', () => {
      user.given([created]).when(enable).thenNothing();
    });

    it('an unknown user is not found', () => {
      user.given([]).when(disable).thenThrows('USER_NOT_FOUND');
      user.given([]).when(enable).thenThrows('USER_NOT_FOUND');
    });

    it('a deleted user is not found', () => {
      user.given([created, deleted]).when(enable).thenThrows('USER_NOT_FOUND');
    });

    it('the state follows', () => {
      assert.equal(user.given([created]).when(disable).state().status, 'disabled');
      assert.equal(user.given([created, disabled]).when(enable).state().status, 'active');
    });
  });

  describe('DeleteUser', () => {
    const del: UserCommand = { type: 'DeleteUser', username };

    it('deletes a user', () => {
      user.given([created]).when(del).then([deleted]);
    });

    it('deletes a disabled user', () => {
      user.given([created, disabled]).when(del).then([deleted]);
    });

    it('an unknown user is not found', () => {
      user.given([]).when(del).thenThrows('USER_NOT_FOUND');
    });

    it('a deleted user is not found', () => {
      user.given([created, deleted]).when(del).thenThrows('USER_NOT_FOUND');
    });

    it('the deleted state keeps no password hash', () => {
      const state = user.given([created]).when(del).state();
      assert.deepEqual(state, { status: 'deleted', username });
    });
  });

  it('evolve ignores unknown events', () => {
    assert.equal(user.given([created, { type: 'Nope', data: {} }]).state().status, 'active');
  });
});

describe('uid sequence decider', () => {
  const seq = decider(uidSequenceDecider);
  const allocate = (name: string) => ({ type: 'AllocateUid' as const, username: name });

  it('hands out FIRST_UID_NUMBER first', () => {
    assert.equal(FIRST_UID_NUMBER, 10000);
    seq
      .given([])
      .when(allocate('alice'))
      .then([{ type: 'UidNumberAllocated', data: { uidNumber: 10000, username: 'alice' } }]);
  });

  it('hands out the next number after the last allocated', () => {
    seq
      .given([
        { type: 'UidNumberAllocated', data: { uidNumber: 10000, username: 'alice' } },
        { type: 'UidNumberAllocated', data: { uidNumber: 10001, username: 'bob' } },
      ])
      .when(allocate('carol'))
      .then([{ type: 'UidNumberAllocated', data: { uidNumber: 10002, username: 'carol' } }]);
  });

  it('never reuses a number, even for the same username', () => {
    const past = [{ type: 'UidNumberAllocated', data: { uidNumber: 10000, username: 'alice' } }];
    const [event] = seq.given(past).when(allocate('alice')).events();
    assert.equal(event.data.uidNumber, 10001);
  });

  it('never goes back after a higher number', () => {
    const state = seq
      .given([
        { type: 'UidNumberAllocated', data: { uidNumber: 20000, username: 'imported' } },
        { type: 'UidNumberAllocated', data: { uidNumber: 10005, username: 'late' } },
      ])
      .state();
    assert.deepEqual(state, { next: 20001 });
  });

  it('rejects an invalid username', () => {
    seq.given([]).when(allocate('Bad')).thenThrows('VALIDATION', 'username');
  });

  it('ignores other events', () => {
    assert.deepEqual(seq.given([{ type: 'UserCreated', data: { uidNumber: 50000 } }]).state(), { next: 10000 });
  });
});
