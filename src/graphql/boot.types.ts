import { Field, Int, ObjectType, registerEnumType } from '@nestjs/graphql';

/** The contract's stages (plugin-api/events.ts BootStage); GraphQL shows the same names. */
export enum BootStageEnum {
  DHCP = 'DHCP',
  FIRMWARE = 'FIRMWARE',
  KERNEL = 'KERNEL',
  ROOT_MOUNTED = 'ROOT_MOUNTED',
  USER_LOGGED_IN = 'USER_LOGGED_IN',
  BOOTED = 'BOOTED',
  STALLED = 'STALLED',
  FAILED = 'FAILED',
}
registerEnumType(BootStageEnum, {
  name: 'BootStage',
  description:
    'Where a boot is: DHCP → FIRMWARE → KERNEL → ROOT_MOUNTED → USER_LOGGED_IN → BOOTED (a stage may be skipped), or STALLED (no progress for longer than the stage allows) or FAILED (it gave up, or restarted).',
});

@ObjectType({ description: 'One stage a boot session entered, and the time spent in it (so far, for the current one).' })
export class BootStageTiming {
  @Field(() => BootStageEnum) stage!: BootStageEnum;
  @Field({ description: 'When it was entered (ISO-8601).' }) at!: string;
  @Field(() => Int) ms!: number;
}

@ObjectType({ description: 'A boot session as it runs: published on every stage change and every file fact (live, not stored).' })
export class BootProgress {
  @Field() mac!: string;
  @Field() sessionId!: string;
  @Field(() => BootStageEnum) stage!: BootStageEnum;
  @Field({ description: 'When it entered `stage`.' }) at!: string;
  @Field(() => String, { nullable: true }) ip!: string | null;
  @Field(() => String, { nullable: true, description: 'The file last asked for over TFTP.' }) currentFile!: string | null;
  @Field(() => String, { nullable: true, description: 'The last request seen (`tftp.file-missing start4.elf`...).' }) lastRequest!:
    string | null;
  @Field(() => String, { nullable: true, description: 'Why it stalled or failed.' }) cause!: string | null;
  @Field(() => [BootStageTiming]) stages!: BootStageTiming[];
}

@ObjectType({ description: 'One boot of a client, from its stored stage changes.' })
export class BootSession {
  @Field() sessionId!: string;
  @Field() mac!: string;
  @Field() startedAt!: string;
  @Field(() => String, { nullable: true, description: 'When it reached BOOTED or FAILED; null while it runs or stalls.' }) endedAt!:
    string | null;
  @Field(() => BootStageEnum) stage!: BootStageEnum;
  @Field(() => String, { nullable: true }) ip!: string | null;
  @Field(() => String, { nullable: true, description: 'The directory user who logged in during it.' }) username!: string | null;
  @Field(() => String, { nullable: true }) cause!: string | null;
  @Field(() => String, { nullable: true }) lastRequest!: string | null;
  @Field(() => [BootStageTiming], { description: 'Each stage with the time spent in it.' }) stages!: BootStageTiming[];
}
