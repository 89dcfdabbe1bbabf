import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { Client } from './client.types';
import { Image } from './image.types';
import { Settings } from './settings.types';
import { Group, User } from './user.types';

@ObjectType({ description: 'The read models as they were at a past point of the log.' })
export class StateAt {
  @Field(() => Float, { description: 'Position of the last event included (0 when none).' }) position!: number;
  @Field(() => Int, { description: 'How many events were replayed.' }) events!: number;
  @Field(() => [Client]) clients!: Client[];
  @Field(() => [User]) users!: User[];
  @Field(() => [Group]) groups!: Group[];
  @Field(() => [Image]) images!: Image[];
  @Field(() => Settings) settings!: Settings;
}

@ObjectType()
export class RebuildResult {
  @Field(() => Int, { description: 'Events replayed.' }) events!: number;
  @Field(() => Int) ms!: number;
}
