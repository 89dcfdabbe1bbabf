import { Field, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'One thing that keeps a client from booting, or explains its state.' })
export class DiagnosisFinding {
  @Field({ description: 'Stable upper-snake-case code (CLIENT_NOT_APPROVED, IMAGE_LACKS_MODEL_FILES, RIVAL_DHCP_SERVER...).' })
  code!: string;
  @Field({ description: 'error (keeps it from booting), warning (may) or info.' }) severity!: string;
  @Field({ description: 'What is wrong and what to do.' }) message!: string;
  @Field({ description: '`core` or the plugin that found it.' }) source!: string;
}

@ObjectType({ description: 'Why a client does (not) boot, from its events and the state now.' })
export class Diagnosis {
  @Field() mac!: string;
  @Field({ description: 'No finding of severity error.' }) ok!: boolean;
  @Field(() => [DiagnosisFinding], { description: 'Errors first, then warnings, then information.' }) findings!: DiagnosisFinding[];
}
