import { Field, InputType, ObjectType } from '@nestjs/graphql';
import { JSONScalar } from './json.scalar';

@ObjectType({ description: 'Settings that belong to no plugin (the environment may pin them). Plugins keep their own: see `plugins`.' })
export class Settings {
  @Field(() => String, { nullable: true, description: 'The one network interface the protocol plugins serve.' }) interface!: string | null;
  @Field(() => String, { nullable: true, description: 'The address Pis reach bramble at.' }) serverIp!: string | null;
}

/** Every field optional: only the fields given change. */
@InputType()
export class SettingsInput {
  @Field(() => String, { nullable: true }) interface?: string | null;
  @Field(() => String, { nullable: true }) serverIp?: string | null;
}

@ObjectType({ description: 'A plugin: built in or third-party, running or not.' })
export class Plugin {
  @Field() name!: string;
  @Field({ description: '`built-in`, or the module named in BRAMBLE_PLUGINS.' }) source!: string;
  @Field({ description: 'loaded, catching-up, started, failed or stopped.' }) state!: string;
  @Field({ description: 'up, degraded or down.' }) status!: string;
  @Field(() => String, { nullable: true, description: 'Why it is degraded or down.' }) detail!: string | null;
  @Field(() => JSONScalar, { nullable: true, description: 'Small facts from its health check.' }) checks!: unknown;
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => [String], { description: 'Event types it projects.' }) consumes!: string[];
  @Field(() => [String], { description: 'Event types it appends.' }) emits!: string[];
  @Field(() => JSONScalar, { description: 'Its settings in effect: stored values over the defaults.' }) settings!: unknown;
  @Field(() => JSONScalar, { nullable: true, description: 'JSON Schema of its settings (types, defaults, descriptions), to draw a form.' })
  settingsSchema!: unknown;
}
