import { Field, InputType, Int, ObjectType } from '@nestjs/graphql';
import { JSONScalar } from './json.scalar';

@ObjectType({ description: 'How long a boot stage may go without progress before the session is STALLED (seconds).' })
export class BootTimeouts {
  @Field(() => Int, { description: 'DHCP seen, no TFTP request (default 30).' }) dhcpSeconds!: number;
  @Field(() => Int, {
    description:
      "FIRMWARE or KERNEL without a new file (default 35: the Pi bootloader's own TFTP_FILE_TIMEOUT is 30 s, and a file is reported when its transfer ends).",
  })
  fileSeconds!: number;
  @Field(() => Int, { description: "KERNEL's last file served, no root mount (default 120)." }) rootMountSeconds!: number;
  @Field(() => Int, { description: 'ROOT_MOUNTED, no boot report (default 300).' }) bootedSeconds!: number;
  @Field(() => Int, { description: 'STALLED, nothing more: FAILED (default 600).' }) failAfterStallSeconds!: number;
}

/** Every field optional: only the timeouts given change. */
@InputType()
export class BootTimeoutsInput {
  @Field(() => Int, { nullable: true }) dhcpSeconds?: number;
  @Field(() => Int, { nullable: true }) fileSeconds?: number;
  @Field(() => Int, { nullable: true }) rootMountSeconds?: number;
  @Field(() => Int, { nullable: true }) bootedSeconds?: number;
  @Field(() => Int, { nullable: true }) failAfterStallSeconds?: number;
}

@ObjectType({ description: 'Settings that belong to no plugin (the environment may pin them). Plugins keep their own: see `plugins`.' })
export class Settings {
  @Field(() => String, { nullable: true, description: 'The one network interface the protocol plugins serve.' }) interface!: string | null;
  @Field(() => String, { nullable: true, description: 'The address Pis reach bramble at.' }) serverIp!: string | null;
  @Field(() => Int, { description: 'Days boot sessions (boot-<mac> streams) are kept (default 30). Nothing else is ever deleted.' })
  bootRetentionDays!: number;
  @Field(() => Int, {
    description:
      'TCP port of the "I\'m up" report (POST /booted) on the server address (default 6970; 0: off). Baked into images at conversion.',
  })
  bootReportPort!: number;
  @Field(() => BootTimeouts) bootTimeouts!: BootTimeouts;
}

/** Every field optional: only the fields given change. */
@InputType()
export class SettingsInput {
  @Field(() => String, { nullable: true }) interface?: string | null;
  @Field(() => String, { nullable: true }) serverIp?: string | null;
  @Field(() => Int, { nullable: true }) bootRetentionDays?: number;
  @Field(() => Int, { nullable: true }) bootReportPort?: number;
  @Field(() => BootTimeoutsInput, { nullable: true }) bootTimeouts?: BootTimeoutsInput;
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
