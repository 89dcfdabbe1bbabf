import { Field, InputType, Int, ObjectType } from '@nestjs/graphql';

/** A user account. The password hash stays in the core: it has no field here. */
@ObjectType({ description: 'A user account that works on every Pi (served over LDAP).' })
export class User {
  @Field() username!: string;
  @Field(() => Int) uidNumber!: number;
  @Field(() => Int, { description: 'gidNumber of the primary group (the first of groups).' }) gidNumber!: number;
  @Field() fullName!: string;
  @Field(() => [String]) groups!: string[];
  @Field() enabled!: boolean;
  @Field() createdAt!: string;
  @Field() updatedAt!: string;
}

@ObjectType()
export class Group {
  @Field() name!: string;
  @Field(() => Int) gidNumber!: number;
  @Field(() => [String], { description: 'Usernames.' }) members!: string[];
  @Field() createdAt!: string;
}

@InputType()
export class CreateUserInput {
  @Field() username!: string;
  @Field({ description: 'Plaintext, hashed by the server (bcrypt) before anything is stored.' }) password!: string;
  @Field(() => String, { nullable: true }) fullName?: string | null;
  @Field(() => [String], { nullable: true, description: 'The first is the primary group; default pupils.' })
  groups?: string[] | null;
}
