import type { ImportRowResult } from './import-rows';
import { BrambleCommand } from './command';

export interface CreateUserInput {
  username: string;
  /** Plaintext: validated and hashed by the handler before any event is built; never stored. */
  password: string;
  fullName?: string | null;
  groups?: string[] | null;
}

export class CreateUserCommand extends BrambleCommand<CreateUserInput> {}
export class ImportUsersCommand extends BrambleCommand<{ csv: string }, ImportRowResult[]> {}
export class SetUserPasswordCommand extends BrambleCommand<{ username: string; password: string }> {}
export class SetUserGroupsCommand extends BrambleCommand<{ username: string; groups: string[] }> {}
export class SetUserFullNameCommand extends BrambleCommand<{ username: string; fullName: string }> {}
export class DisableUserCommand extends BrambleCommand<{ username: string }> {}
export class EnableUserCommand extends BrambleCommand<{ username: string }> {}
export class DeleteUserCommand extends BrambleCommand<{ username: string }> {}

export class CreateGroupCommand extends BrambleCommand<{ name: string }> {}
export class DeleteGroupCommand extends BrambleCommand<{ name: string }> {}
