import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { gidSequenceDecider, groupDecider } from '../domain/group/group.decider';
import { GID_SEQUENCE_STREAM, groupStream } from '../domain/group/group.events';
import type { CommandMeta } from '../domain/shared/command-meta';
import { DomainError, ErrorCode } from '../domain/shared/domain-error';
import { hashPassword, validatePassword } from '../domain/user/password';
import { parseUsersCsv } from '../domain/user/user-import';
import { uidSequenceDecider, userDecider, validateUsername } from '../domain/user/user.decider';
import { UID_SEQUENCE_STREAM, userStream } from '../domain/user/user.events';
import { ReadModelQueries } from '../projections/read-model-queries';
import type { ImportRowResult } from './client.commands';
import { CommandRunner, type CommandOutcome } from './command-runner';
import {
  CreateGroupCommand,
  CreateUserCommand,
  DeleteGroupCommand,
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

function last(...outcomes: CommandOutcome[]): CommandOutcome {
  const positions = outcomes.map((o) => o.position).filter((p): p is number => p !== null);
  return {
    position: positions.length ? Math.max(...positions) : null,
    events: outcomes.flatMap((o) => o.events),
  };
}

/**
 * Group membership is kept on the groups' streams (GroupMembersChanged); a user's own `groups`
 * list records what was asked. User handlers update both, user stream first.
 */
async function syncMemberships(
  runner: CommandRunner, username: string, before: string[], after: string[], meta: CommandMeta,
): Promise<CommandOutcome[]> {
  const outcomes: CommandOutcome[] = [];
  for (const name of after.filter((g) => !before.includes(g))) {
    outcomes.push(await runner.run(groupStream(name), groupDecider, { type: 'ChangeGroupMembers', name, add: [username], remove: [] }, meta));
  }
  for (const name of before.filter((g) => !after.includes(g))) {
    try {
      outcomes.push(await runner.run(groupStream(name), groupDecider, { type: 'ChangeGroupMembers', name, add: [], remove: [username] }, meta));
    } catch (error) {
      // A group deleted meanwhile has no members to remove.
      if (!(error instanceof DomainError && error.code === ErrorCode.GROUP_NOT_FOUND)) throw error;
    }
  }
  return outcomes;
}

async function createUser(runner: CommandRunner, queries: ReadModelQueries, input: CreateUserInput, meta: CommandMeta): Promise<CommandOutcome> {
  const username = input.username.trim();
  validateUsername(username);
  validatePassword(input.password);
  const groups = [...new Set((input.groups ?? []).map((g) => g.trim()).filter(Boolean))];
  if (groups.length === 0) groups.push(DEFAULT_USER_GROUP);
  const primary = queries.requireGroup(groups[0]);
  for (const g of groups.slice(1)) queries.requireGroup(g);
  if (queries.user(username)) throw new DomainError(ErrorCode.USER_EXISTS, `user ${username} already exists`);
  const passwordHash = await hashPassword(input.password);
  const allocated = await runner.run(UID_SEQUENCE_STREAM, uidSequenceDecider, { type: 'AllocateUid', username }, meta);
  const uidNumber = (allocated.events[0].data as { uidNumber: number }).uidNumber;
  const created = await runner.run(userStream(username), userDecider, {
    type: 'CreateUser', username, uidNumber, gidNumber: primary.gidNumber,
    fullName: (input.fullName ?? '').trim(), groups, passwordHash,
  }, meta);
  return last(created, ...(await syncMemberships(runner, username, [], groups, meta)));
}

@CommandHandler(CreateUserCommand)
export class CreateUserHandler implements ICommandHandler<CreateUserCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  execute({ input, meta }: CreateUserCommand): Promise<CommandOutcome> {
    return createUser(this.runner, this.queries, input, meta);
  }
}

/** Creates a user per CSV row, four at a time (hashing is the slow part); bad rows don't stop good ones. */
@CommandHandler(ImportUsersCommand)
export class ImportUsersHandler implements ICommandHandler<ImportUsersCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  async execute({ input, meta }: ImportUsersCommand): Promise<ImportRowResult[]> {
    const rows = parseUsersCsv(input.csv);
    const results: ImportRowResult[] = new Array(rows.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < rows.length) {
        const i = next++;
        const row = rows[i];
        if (!row.ok) {
          results[i] = { line: row.line, key: null, ok: false, code: row.code, message: row.message };
          continue;
        }
        try {
          await createUser(this.runner, this.queries, row, meta);
          results[i] = { line: row.line, key: row.username, ok: true, code: null, message: null };
        } catch (error) {
          if (!(error instanceof DomainError)) throw error;
          results[i] = { line: row.line, key: row.username, ok: false, code: error.code, message: error.message };
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    return results;
  }
}

@CommandHandler(SetUserPasswordCommand)
export class SetUserPasswordHandler implements ICommandHandler<SetUserPasswordCommand> {
  constructor(private readonly runner: CommandRunner) {}
  async execute({ input, meta }: SetUserPasswordCommand): Promise<CommandOutcome> {
    validatePassword(input.password);
    const passwordHash = await hashPassword(input.password);
    return this.runner.run(userStream(input.username), userDecider, { type: 'ChangeUserPassword', username: input.username, passwordHash }, meta);
  }
}

@CommandHandler(SetUserGroupsCommand)
export class SetUserGroupsHandler implements ICommandHandler<SetUserGroupsCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  async execute({ input, meta }: SetUserGroupsCommand): Promise<CommandOutcome> {
    const groups = [...new Set(input.groups.map((g) => g.trim()).filter(Boolean))];
    for (const g of groups) this.queries.requireGroup(g);
    const before = [...(this.queries.user(input.username)?.groups ?? [])];
    const changed = await this.runner.run(userStream(input.username), userDecider, { type: 'ChangeUserGroups', username: input.username, groups }, meta);
    if (changed.events.length === 0) return changed;
    return last(changed, ...(await syncMemberships(this.runner, input.username, before, groups, meta)));
  }
}

@CommandHandler(SetUserFullNameCommand)
export class SetUserFullNameHandler implements ICommandHandler<SetUserFullNameCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: SetUserFullNameCommand): Promise<CommandOutcome> {
    return this.runner.run(userStream(input.username), userDecider, { type: 'ChangeUserFullName', username: input.username, fullName: input.fullName }, meta);
  }
}

@CommandHandler(DisableUserCommand)
export class DisableUserHandler implements ICommandHandler<DisableUserCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: DisableUserCommand): Promise<CommandOutcome> {
    return this.runner.run(userStream(input.username), userDecider, { type: 'DisableUser', username: input.username }, meta);
  }
}

@CommandHandler(EnableUserCommand)
export class EnableUserHandler implements ICommandHandler<EnableUserCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: EnableUserCommand): Promise<CommandOutcome> {
    return this.runner.run(userStream(input.username), userDecider, { type: 'EnableUser', username: input.username }, meta);
  }
}

@CommandHandler(DeleteUserCommand)
export class DeleteUserHandler implements ICommandHandler<DeleteUserCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  async execute({ input, meta }: DeleteUserCommand): Promise<CommandOutcome> {
    const before = this.queries.groups().filter((g) => g.members.includes(input.username)).map((g) => g.name);
    const deleted = await this.runner.run(userStream(input.username), userDecider, { type: 'DeleteUser', username: input.username }, meta);
    return last(deleted, ...(await syncMemberships(this.runner, input.username, before, [], meta)));
  }
}

@CommandHandler(CreateGroupCommand)
export class CreateGroupHandler implements ICommandHandler<CreateGroupCommand> {
  constructor(private readonly runner: CommandRunner, private readonly queries: ReadModelQueries) {}
  async execute({ input, meta }: CreateGroupCommand): Promise<CommandOutcome> {
    const name = input.name.trim();
    validateUsername(name, 'name');
    if (this.queries.group(name)) throw new DomainError(ErrorCode.GROUP_EXISTS, `group ${name} already exists`);
    const allocated = await this.runner.run(GID_SEQUENCE_STREAM, gidSequenceDecider, { type: 'AllocateGid', name }, meta);
    const gidNumber = (allocated.events[0].data as { gidNumber: number }).gidNumber;
    return this.runner.run(groupStream(name), groupDecider, { type: 'CreateGroup', name, gidNumber }, meta);
  }
}

@CommandHandler(DeleteGroupCommand)
export class DeleteGroupHandler implements ICommandHandler<DeleteGroupCommand> {
  constructor(private readonly runner: CommandRunner) {}
  execute({ input, meta }: DeleteGroupCommand): Promise<CommandOutcome> {
    return this.runner.run(groupStream(input.name), groupDecider, { type: 'DeleteGroup', name: input.name }, meta);
  }
}

export const USER_HANDLERS = [
  CreateUserHandler,
  ImportUsersHandler,
  SetUserPasswordHandler,
  SetUserGroupsHandler,
  SetUserFullNameHandler,
  DisableUserHandler,
  EnableUserHandler,
  DeleteUserHandler,
  CreateGroupHandler,
  DeleteGroupHandler,
];
