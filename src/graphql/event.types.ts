import { Field, Float, InputType, Int, ObjectType } from '@nestjs/graphql';
import { JSONScalar } from './json.scalar';

@ObjectType('EventMetadata')
export class EventMetadataType {
  @Field({ description: 'admin:<token>, plugin:<name> or system.' }) actor!: string;
  @Field() correlationId!: string;
  @Field(() => String, { nullable: true }) causationId!: string | null;
  @Field({ description: 'ISO-8601 time the command was issued.' }) timestamp!: string;
  @Field(() => Int) schemaVersion!: number;
}

@ObjectType('Event', { description: 'One event of the log, secrets redacted.' })
export class EventType {
  @Field() id!: string;
  @Field() stream!: string;
  @Field(() => Int, { description: '0-based index inside its stream.' }) revision!: number;
  @Field(() => Float, { description: 'Global position: the cursor of the audit log.' }) position!: number;
  @Field() type!: string;
  @Field(() => JSONScalar) data!: unknown;
  @Field(() => EventMetadataType) metadata!: EventMetadataType;
}

@ObjectType()
export class EventPage {
  @Field(() => [EventType]) events!: EventType[];
  @Field(() => Float, { nullable: true, description: 'Pass as `after` to read the next page.' }) endCursor!: number | null;
  @Field() hasNextPage!: boolean;
}

@InputType()
export class EventFilterInput {
  @Field(() => String, { nullable: true, description: 'Stream name starts with this (e.g. client-, user-alice).' })
  streamPrefix?: string | null;
  @Field(() => [String], { nullable: true, description: 'Stream name starts with one of these.' })
  streamPrefixes?: string[] | null;
  @Field(() => [String], { nullable: true, description: 'Event type is one of these.' }) types?: string[] | null;
  @Field(() => String, { nullable: true }) actor?: string | null;
  @Field(() => String, { nullable: true, description: 'ISO-8601; timestamp >= since.' }) since?: string | null;
  @Field(() => String, { nullable: true, description: 'ISO-8601; timestamp < until.' }) until?: string | null;
}
