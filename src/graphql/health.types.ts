import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { JSONScalar } from './json.scalar';

@ObjectType()
export class EventStoreHealth {
  @Field({ description: 'up, degraded (appends or some reads failing) or down.' }) status!: string;
  @Field(() => Float, { nullable: true }) headPosition!: number | null;
  @Field(() => String, { nullable: true, description: 'Why it is not up: the failed operation and the error.' }) detail?: string;
  @Field(() => String, { nullable: true, description: 'When that failure happened (ISO-8601).' }) since?: string;
  @Field(() => String, { nullable: true, description: 'The start-up integrity check: running, passed, failed or skipped.' })
  integrityCheck?: string;
}

@ObjectType()
export class ProjectionsHealth {
  @Field() caughtUp!: boolean;
  @Field(() => Float) position!: number;
  @Field(() => Float, { nullable: true }) lag!: number | null;
}

@ObjectType()
export class ProcessManagerHealth {
  @Field({ description: 'up, degraded (retrying a write the store refused) or down (not started).' }) status!: string;
  @Field(() => String, { nullable: true, description: 'Why it is not up.' }) detail?: string;
  @Field(() => Float, { description: 'Position of the last event it has handled.' }) position!: number;
}

@ObjectType()
export class ProcessManagersHealth {
  @Field(() => ProcessManagerHealth, { description: "Keeps the groups' members in step with the users' groups." })
  membership!: ProcessManagerHealth;
}

@ObjectType({ description: 'The same report as GET /health.' })
export class Health {
  @Field({ description: 'ok, degraded or down.' }) status!: string;
  @Field(() => EventStoreHealth) eventStore!: EventStoreHealth;
  @Field(() => ProjectionsHealth) projections!: ProjectionsHealth;
  @Field(() => ProcessManagersHealth) processManagers!: ProcessManagersHealth;
  @Field(() => JSONScalar, { description: 'Per plugin: status, detail, checks, state, source.' }) plugins!: unknown;
  @Field(() => Int) uptimeSeconds!: number;
}
