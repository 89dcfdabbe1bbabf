import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { commandMeta } from '../core/commands/meta';
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
} from '../core/commands/user.commands';
import { DomainError, ErrorCode } from '../core/domain/shared/domain-error';
import { CostlyWork } from '../core/limits/concurrency-limiter';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import type { GroupView, UserView } from '../core/projections/read-models';
import { AuthenticatedGuard, CurrentActor } from './auth';
import { CommandGateway } from './command-gateway';
import { ImportRowResult } from './import.types';
import { CreateUserInput, Group, User } from './user.types';

@Resolver(() => User)
@UseGuards(AuthenticatedGuard)
export class UserResolver {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly commands: CommandGateway,
    private readonly costly: CostlyWork,
  ) {}

  @Query(() => [User])
  users(): UserView[] {
    return this.queries.users();
  }

  @Query(() => User, { nullable: true, description: 'null when unknown.' })
  user(@Args('username') username: string): UserView | null {
    return this.queries.user(username);
  }

  @Query(() => [Group])
  groups(): GroupView[] {
    return this.queries.groups();
  }

  @Query(() => Group, { nullable: true, description: 'null when unknown.' })
  group(@Args('name') name: string): GroupView | null {
    return this.queries.group(name);
  }

  @Mutation(() => User)
  async createUser(@CurrentActor() actor: string, @Args('input') input: CreateUserInput): Promise<UserView> {
    const username = input.username.trim();
    await this.commands.send(
      new CreateUserCommand({ username, password: input.password, fullName: input.fullName, groups: input.groups }, commandMeta(actor)),
    );
    return this.current(username);
  }

  @Mutation(() => [ImportRowResult], {
    description: 'Creates a user per CSV row: username,password[,fullName[,groups]] (groups separated by ; or spaces). One result per row.',
  })
  importUsers(@CurrentActor() actor: string, @Args('csv') csv: string): Promise<ImportRowResult[]> {
    return this.costly.import.run(() => this.commands.sendAndCatchUp(new ImportUsersCommand({ csv }, commandMeta(actor))));
  }

  @Mutation(() => User)
  async setUserPassword(
    @CurrentActor() actor: string,
    @Args('username') username: string,
    @Args('password') password: string,
  ): Promise<UserView> {
    await this.commands.send(new SetUserPasswordCommand({ username, password }, commandMeta(actor)));
    return this.current(username);
  }

  @Mutation(() => User, { description: "Replaces the user's groups; the first is the primary group." })
  async setUserGroups(
    @CurrentActor() actor: string,
    @Args('username') username: string,
    @Args('groups', { type: () => [String] }) groups: string[],
  ): Promise<UserView> {
    await this.commands.send(new SetUserGroupsCommand({ username, groups }, commandMeta(actor)));
    return this.current(username);
  }

  @Mutation(() => User)
  async setUserFullName(
    @CurrentActor() actor: string,
    @Args('username') username: string,
    @Args('fullName') fullName: string,
  ): Promise<UserView> {
    await this.commands.send(new SetUserFullNameCommand({ username, fullName }, commandMeta(actor)));
    return this.current(username);
  }

  @Mutation(() => User)
  async disableUser(@CurrentActor() actor: string, @Args('username') username: string): Promise<UserView> {
    await this.commands.send(new DisableUserCommand({ username }, commandMeta(actor)));
    return this.current(username);
  }

  @Mutation(() => User)
  async enableUser(@CurrentActor() actor: string, @Args('username') username: string): Promise<UserView> {
    await this.commands.send(new EnableUserCommand({ username }, commandMeta(actor)));
    return this.current(username);
  }

  @Mutation(() => Boolean, { description: 'true when done.' })
  async deleteUser(@CurrentActor() actor: string, @Args('username') username: string): Promise<boolean> {
    await this.commands.send(new DeleteUserCommand({ username }, commandMeta(actor)));
    return true;
  }

  @Mutation(() => Group)
  async createGroup(@CurrentActor() actor: string, @Args('name') name: string): Promise<GroupView> {
    await this.commands.send(new CreateGroupCommand({ name }, commandMeta(actor)));
    const group = this.queries.group(name.trim());
    if (!group) throw new DomainError(ErrorCode.GROUP_NOT_FOUND, `group ${name.trim()} not found`, 'name');
    return group;
  }

  @Mutation(() => Boolean, { description: 'true when done.' })
  async deleteGroup(@CurrentActor() actor: string, @Args('name') name: string): Promise<boolean> {
    await this.commands.send(new DeleteGroupCommand({ name }, commandMeta(actor)));
    return true;
  }

  private current(username: string): UserView {
    const user = this.queries.user(username);
    if (!user) throw new DomainError(ErrorCode.USER_NOT_FOUND, `user ${username} not found`, 'username');
    return user;
  }
}
