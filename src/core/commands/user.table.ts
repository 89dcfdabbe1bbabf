/**
 * The user aggregate's command table (stream `user-<name>`, uid numbers from `sequence-uid`).
 * Group membership follows the user's `groups` through the membership process manager
 * (process-managers/membership.process-manager.ts): these flows write the user's stream only, then
 * wait until the manager has brought the groups in step, so an answer shows the membership.
 */
import type { CommandMeta } from '../domain/shared/command-meta';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { validatePassword } from '../domain/user/password';
import { parseUsersCsv } from '../domain/user/user-import';
import { validateNotReserved } from '../domain/user/reserved-names';
import { isExistingUser, uidSequenceDecider, userDecider, validateNewUsername } from '../domain/user/user.decider';
import { UID_SEQUENCE_STREAM, userStream } from '../domain/user/user.events';
import type { CommandDeps } from './command-deps';
import type { CommandOutcome } from './command-runner';
import { aggregateTable, flow } from './command-table';
import { importRows } from './import-rows';
import {
  CreateUserCommand,
  DeleteUserCommand,
  DisableUserCommand,
  EnableUserCommand,
  ImportUsersCommand,
  SetUserFullNameCommand,
  SetUserGroupsCommand,
  SetUserPasswordCommand,
  type CreateUserInput,
} from './user.commands';

/** The primary group of users created without groups. */
export const DEFAULT_USER_GROUP = 'pupils';

/** Hashing is the slow part of creating a user: an import runs this many at once. */
const IMPORT_CONCURRENCY = 4;

/**
 * Trimmed, without duplicates; a group of the Pi's own OS is VALIDATION on `groups` here, before
 * the lookup would call it GROUP_NOT_FOUND (the decider checks again).
 */
function groupList(groups: readonly string[] | null | undefined): string[] {
  const list = [...new Set((groups ?? []).map((g) => g.trim()).filter(Boolean))];
  for (const g of list) validateNotReserved(g, 'groups');
  return list;
}

async function createUser(input: CreateUserInput, meta: CommandMeta, d: CommandDeps): Promise<CommandOutcome> {
  const username = input.username.trim();
  // Before a uid number is allocated: a refused name must not use one up.
  validateNewUsername(username);
  validatePassword(input.password);
  const groups = groupList(input.groups);
  if (groups.length === 0) groups.push(DEFAULT_USER_GROUP);
  const primary = d.queries.requireGroup(groups[0]);
  for (const g of groups.slice(1)) d.queries.requireGroup(g);
  // Asked of the store, not a read model: a name is free only if its stream says so. (The decider
  // checks again on append, with the expected revision, for writers racing this one.)
  if (isExistingUser((await d.runner.load(userStream(username), userDecider)).state)) {
    throw new DomainError(ErrorCode.USER_EXISTS, `user ${username} already exists`, 'username');
  }
  const passwordHash = await d.passwords.hash(input.password);
  const allocated = await d.runner.run(UID_SEQUENCE_STREAM, uidSequenceDecider, { type: 'AllocateUid', username }, meta);
  const uidNumber = allocated.events[0].data.uidNumber;
  const created = await d.runner.run(
    userStream(username),
    userDecider,
    {
      type: 'CreateUser',
      username,
      uidNumber,
      gidNumber: primary.gidNumber,
      fullName: (input.fullName ?? '').trim(),
      groups,
      passwordHash,
    },
    meta,
  );
  return d.membership.settled(created);
}

/** Runs a user command, then waits for the membership to follow it. */
async function userChange(d: CommandDeps, run: () => Promise<CommandOutcome>): Promise<CommandOutcome> {
  const outcome = await run();
  return outcome.events.length === 0 ? outcome : d.membership.settled(outcome);
}

export const USER_TABLE = aggregateTable({ name: 'user', decider: userDecider, stream: (c) => userStream(c.username) }, (on) => [
  flow(CreateUserCommand, createUser),

  /** Creates a user per CSV row, four at a time; bad rows don't stop good ones, a store failure stops the rest. */
  flow(ImportUsersCommand, (input, meta, d) =>
    importRows(
      parseUsersCsv(input.csv),
      (row) => row.username,
      IMPORT_CONCURRENCY,
      async (row) => {
        await createUser(row, meta, d);
      },
    ),
  ),

  on(SetUserPasswordCommand, async (i, d) => {
    validatePassword(i.password);
    return { type: 'ChangeUserPassword', username: i.username, passwordHash: await d.passwords.hash(i.password) };
  }),
  flow(SetUserGroupsCommand, (input, meta, d) => {
    const groups = groupList(input.groups);
    for (const g of groups) d.queries.requireGroup(g);
    return userChange(d, () =>
      d.runner.run(userStream(input.username), userDecider, { type: 'ChangeUserGroups', username: input.username, groups }, meta),
    );
  }),
  on(SetUserFullNameCommand, (i) => ({ type: 'ChangeUserFullName', username: i.username, fullName: i.fullName })),
  on(DisableUserCommand, (i) => ({ type: 'DisableUser', username: i.username })),
  on(EnableUserCommand, (i) => ({ type: 'EnableUser', username: i.username })),
  flow(DeleteUserCommand, (input, meta, d) =>
    userChange(d, () => d.runner.run(userStream(input.username), userDecider, { type: 'DeleteUser', username: input.username }, meta)),
  ),
]);
