/** Users and groups through the GraphQL API; passwords never come back out. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/app-harness';

const USER_FIELDS = 'username uidNumber gidNumber fullName groups enabled createdAt updatedAt';
const PASSWORDS = ['Ada-Secret-1', 'Bob-Secret-22', 'Cy-Secret-333', 'New-Secret-4444', 'Dup-Secret-555'];

describe('GraphQL API: users and groups', () => {
  let h: Harness;
  /** Every response body of this suite, to check that no password or hash ever appears. */
  const bodies: string[] = [];
  const gql = async (query: string, variables?: Record<string, unknown>) => {
    const res = await h.gql(query, variables);
    bodies.push(res.text);
    return res;
  };
  const ok = async (query: string, variables?: Record<string, unknown>) => {
    const res = await gql(query, variables);
    assert.equal(res.errors, undefined, JSON.stringify(res.errors));
    return res.data as Record<string, any>;
  };

  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('the User type has no password or hash field', async () => {
    const res = await gql('{ __type(name: "User") { fields { name } } }');
    const fields = (res.data?.__type.fields as { name: string }[]).map((f) => f.name);
    assert.deepEqual(fields.sort(), ['createdAt', 'enabled', 'fullName', 'gidNumber', 'groups', 'uidNumber', 'updatedAt', 'username']);
  });

  it('createGroup returns the group; groups lists it; a taken name is GROUP_EXISTS', async () => {
    const created = await ok('mutation { createGroup(name: "lab") { name gidNumber members createdAt } }');
    assert.equal(created.createGroup.name, 'lab');
    assert.equal(created.createGroup.gidNumber, 10002);
    assert.deepEqual(created.createGroup.members, []);
    const groups = await ok('{ groups { name } group(name: "lab") { gidNumber } }');
    assert.deepEqual(
      groups.groups.map((g: { name: string }) => g.name),
      ['lab', 'pupils', 'teachers'],
    );
    assert.equal(groups.group.gidNumber, 10002);
    const taken = await gql('mutation { createGroup(name: "lab") { name } }');
    assert.equal(taken.errors?.[0]?.extensions?.code, 'GROUP_EXISTS');
  });

  it('createUser returns the user (primary group first) and makes it a member', async () => {
    const res = await ok(`mutation ($input: CreateUserInput!) { createUser(input: $input) { ${USER_FIELDS} } }`, {
      input: { username: 'ada', password: PASSWORDS[0], fullName: 'Ada Lovelace', groups: ['teachers', 'lab'] },
    });
    const u = res.createUser;
    assert.equal(u.username, 'ada');
    assert.equal(u.fullName, 'Ada Lovelace');
    assert.deepEqual(u.groups, ['teachers', 'lab']);
    assert.equal(u.gidNumber, 10001);
    assert.ok(u.uidNumber >= 1000);
    assert.equal(u.enabled, true);
    const groups = await ok('{ groups { name members } }');
    assert.deepEqual(groups.groups.find((g: { name: string }) => g.name === 'lab').members, ['ada']);
  });

  it('createUser errors: USER_EXISTS, GROUP_NOT_FOUND, VALIDATION naming the field', async () => {
    const exists = await gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { username } }', {
      input: { username: 'ada', password: PASSWORDS[4] },
    });
    assert.equal(exists.errors?.[0]?.extensions?.code, 'USER_EXISTS');
    assert.equal(exists.data, null);
    const noGroup = await gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { username } }', {
      input: { username: 'eve', password: PASSWORDS[4], groups: ['nosuch'] },
    });
    assert.equal(noGroup.errors?.[0]?.extensions?.code, 'GROUP_NOT_FOUND');
    const shortPassword = await gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { username } }', {
      input: { username: 'eve', password: 'short' },
    });
    assert.equal(shortPassword.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(shortPassword.errors?.[0]?.extensions?.field, 'password');
    const badName = await gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { username } }', {
      input: { username: 'Not Valid', password: PASSWORDS[4] },
    });
    assert.equal(badName.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(badName.errors?.[0]?.extensions?.field, 'username');
  });

  it("createUser, createGroup and setUserGroups refuse the Pi OS's own names: VALIDATION naming the field and the reason", async () => {
    const reserved = await gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { username } }', {
      input: { username: 'pi', password: PASSWORDS[4] },
    });
    assert.equal(reserved.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(reserved.errors?.[0]?.extensions?.field, 'username');
    assert.equal(reserved.errors?.[0]?.message, "username: reserved: a system account of the Pi's OS (`pi`)");
    assert.equal(reserved.data, null);
    const sudo = await gql('mutation ($input: CreateUserInput!) { createUser(input: $input) { username } }', {
      input: { username: 'eve', password: PASSWORDS[4], groups: ['pupils', 'sudo'] },
    });
    assert.equal(sudo.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(sudo.errors?.[0]?.extensions?.field, 'groups');
    const group = await gql('mutation { createGroup(name: "gpio") { name } }');
    assert.equal(group.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(group.errors?.[0]?.extensions?.field, 'name');
    const setGroups = await gql('mutation { setUserGroups(username: "ada", groups: ["teachers", "video"]) { groups } }');
    assert.equal(setGroups.errors?.[0]?.extensions?.code, 'VALIDATION');
    assert.equal(setGroups.errors?.[0]?.extensions?.field, 'groups');
    const after = await ok(
      '{ user(username: "ada") { groups } pi: user(username: "pi") { username } eve: user(username: "eve") { username } }',
    );
    assert.deepEqual(after.user.groups, ['teachers', 'lab'], 'unchanged');
    assert.equal(after.pi, null);
    assert.equal(after.eve, null);
  });

  it('importUsers: good rows are created, bad rows reported with line and code, none stops the others', async () => {
    const csv = [
      'username,password,fullName,groups',
      `bob,${PASSWORDS[1]},Bob Builder,pupils`,
      'bad name,whatever-password,,',
      `cy,${PASSWORDS[2]},,lab;pupils`,
      'dee,short,,',
      `ada,${PASSWORDS[4]},,`,
      `fay,${PASSWORDS[4]},,nosuchgroup`,
    ].join('\n');
    const res = await ok('mutation ($csv: String!) { importUsers(csv: $csv) { line key ok code message } }', { csv });
    const rows = res.importUsers as Array<{ line: number; key: string | null; ok: boolean; code: string | null; message: string | null }>;
    assert.deepEqual(
      rows.map((r) => [r.line, r.key, r.ok, r.code]),
      [
        [2, 'bob', true, null],
        [3, null, false, 'VALIDATION'],
        [4, 'cy', true, null],
        [5, null, false, 'VALIDATION'],
        [6, 'ada', false, 'USER_EXISTS'],
        [7, 'fay', false, 'GROUP_NOT_FOUND'],
      ],
    );
    assert.match(rows[3].message ?? '', /password/);
    const users = await ok(`{ users { username fullName groups } }`);
    assert.deepEqual(users.users, [
      { username: 'ada', fullName: 'Ada Lovelace', groups: ['teachers', 'lab'] },
      { username: 'bob', fullName: 'Bob Builder', groups: ['pupils'] },
      { username: 'cy', fullName: '', groups: ['lab', 'pupils'] },
    ]);
  });

  it('importUsers and importClients refuse a file over 1 MiB or 10,000 rows whole: VALIDATION on csv, nothing written', async () => {
    const before = await ok('{ users { username } clients { mac } }');
    const tooLong = `zed,Zed-Secret-1,${'x'.repeat(1024 * 1024)}`;
    const tooMany = Array.from(
      { length: 10_001 },
      (_, i) => `dc:a6:32:${[i >> 8, i & 255, 1].map((b) => b.toString(16).padStart(2, '0')).join(':')}`,
    ).join('\n');
    for (const [mutation, csv] of [
      ['importUsers', tooLong],
      ['importClients', tooMany],
    ]) {
      const res = await gql(`mutation ($csv: String!) { ${mutation}(csv: $csv) { line ok } }`, { csv });
      assert.equal(res.errors?.[0]?.extensions?.code, 'VALIDATION', `${mutation}: ${res.text.slice(0, 300)}`);
      assert.equal(res.errors?.[0]?.extensions?.field, 'csv');
    }
    assert.deepEqual(await ok('{ users { username } clients { mac } }'), before);
  });

  it('user(username) reads one user; null when unknown', async () => {
    const res = await ok('{ user(username: "bob") { username enabled } nobody: user(username: "zed") { username } }');
    assert.deepEqual(res.user, { username: 'bob', enabled: true });
    assert.equal(res.nobody, null);
  });

  it('setUserPassword returns the user; a weak password is VALIDATION on password; unknown user is USER_NOT_FOUND', async () => {
    const before = await ok('{ user(username: "bob") { updatedAt } }');
    const res = await ok('mutation ($p: String!) { setUserPassword(username: "bob", password: $p) { username updatedAt } }', {
      p: PASSWORDS[3],
    });
    assert.equal(res.setUserPassword.username, 'bob');
    assert.ok(res.setUserPassword.updatedAt >= before.user.updatedAt);
    const weak = await gql('mutation { setUserPassword(username: "bob", password: "x") { username } }');
    assert.equal(weak.errors?.[0]?.extensions?.field, 'password');
    const unknown = await gql('mutation ($p: String!) { setUserPassword(username: "zed", password: $p) { username } }', {
      p: PASSWORDS[3],
    });
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'USER_NOT_FOUND');
  });

  it('setUserGroups replaces the groups and the memberships; an unknown group is GROUP_NOT_FOUND', async () => {
    const res = await ok('mutation { setUserGroups(username: "bob", groups: ["lab", "teachers"]) { groups gidNumber } }');
    assert.deepEqual(res.setUserGroups.groups, ['lab', 'teachers']);
    const groups = await ok('{ groups { name members } }');
    const members = Object.fromEntries(groups.groups.map((g: { name: string; members: string[] }) => [g.name, g.members]));
    assert.deepEqual(members.lab, ['ada', 'bob', 'cy']);
    assert.deepEqual(members.pupils, ['cy']);
    const unknown = await gql('mutation { setUserGroups(username: "bob", groups: ["nosuch"]) { groups } }');
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'GROUP_NOT_FOUND');
  });

  it('setUserFullName, disableUser and enableUser return the updated user', async () => {
    const named = await ok('mutation { setUserFullName(username: "cy", fullName: "Cy Young") { fullName } }');
    assert.equal(named.setUserFullName.fullName, 'Cy Young');
    const disabled = await ok('mutation { disableUser(username: "cy") { enabled } }');
    assert.equal(disabled.disableUser.enabled, false);
    const enabled = await ok('mutation { enableUser(username: "cy") { enabled } }');
    assert.equal(enabled.enableUser.enabled, true);
  });

  it('deleteGroup refuses a group with members (GROUP_NOT_EMPTY), unknown is GROUP_NOT_FOUND', async () => {
    const notEmpty = await gql('mutation { deleteGroup(name: "lab") }');
    assert.equal(notEmpty.errors?.[0]?.extensions?.code, 'GROUP_NOT_EMPTY');
    const unknown = await gql('mutation { deleteGroup(name: "nosuch") }');
    assert.equal(unknown.errors?.[0]?.extensions?.code, 'GROUP_NOT_FOUND');
    assert.equal(unknown.errors?.[0]?.extensions?.field, 'name');
  });

  it('deleteUser removes the user and its memberships; then deleteGroup works', async () => {
    await ok('mutation { createGroup(name: "tmp") { name } }');
    const created = await ok(
      'mutation ($p: String!) { createUser(input: { username: "tim", password: $p, groups: ["tmp"] }) { username } }',
      { p: PASSWORDS[4] },
    );
    assert.equal(created.createUser.username, 'tim');
    const deleted = await ok('mutation { deleteUser(username: "tim") }');
    assert.equal(deleted.deleteUser, true);
    const after = await ok('{ user(username: "tim") { username } group(name: "tmp") { members } }');
    assert.equal(after.user, null);
    assert.deepEqual(after.group.members, []);
    const groupDeleted = await ok('mutation { deleteGroup(name: "tmp") }');
    assert.equal(groupDeleted.deleteGroup, true);
    const gone = await ok('{ group(name: "tmp") { name } }');
    assert.equal(gone.group, null);
    const again = await gql('mutation { deleteUser(username: "tim") }');
    assert.equal(again.errors?.[0]?.extensions?.code, 'USER_NOT_FOUND');
  });

  it('no password, and no password hash, in any response, in the audit log or in its export', async () => {
    const audit = await ok('{ events(first: 1000) { events { type data } hasNextPage } }');
    assert.equal(audit.events.hasNextPage, false);
    const created = audit.events.events.filter((e: { type: string }) => e.type === 'UserCreated');
    assert.equal(created.length, 4);
    for (const e of created) assert.equal(e.data.passwordHash, '[redacted]');
    const exported = await fetch(`${h.url}/audit/export.ndjson`, { headers: { authorization: `Bearer ${h.token}` } });
    assert.equal(exported.status, 200);
    const everything = [...bodies, await exported.text()].join('\n');
    for (const secret of PASSWORDS) assert.equal(everything.includes(secret), false, `a password appears: ${secret}`);
    assert.equal(/\$2[aby]\$\d\d\$/.test(everything), false, 'a bcrypt hash appears');
    assert.equal(everything.includes('{CRYPT}'), false);
  });
});
