import { Field, ObjectType, registerEnumType } from '@nestjs/graphql';

/** The values are the read model's (`pending`...); GraphQL shows the names (`PENDING`...). */
export enum ClientStatus {
  PENDING = 'pending',
  APPROVED = 'approved',
  REJECTED = 'rejected',
}
registerEnumType(ClientStatus, {
  name: 'ClientStatus',
  description: 'Where a Pi stands: seen but not decided, allowed to boot, or refused.',
});

@ObjectType({ description: 'One Raspberry Pi, as the read models see it now (or at a past point for stateAt).' })
export class Client {
  @Field({ description: 'Normalised MAC, aa:bb:cc:dd:ee:ff.' }) mac!: string;
  @Field(() => ClientStatus) status!: ClientStatus;
  @Field(() => String, { nullable: true, description: 'Hostname given on approval or rename.' }) name!: string | null;
  @Field(() => String, { nullable: true }) imageId!: string | null;
  @Field(() => String, { nullable: true }) serial!: string | null;
  @Field(() => String, { nullable: true }) model!: string | null;
  @Field(() => String, { nullable: true }) ip!: string | null;
  @Field({ description: 'Extra config.txt lines.' }) configTxt!: string;
  @Field({ description: 'Extra kernel command line arguments.' }) cmdlineArgs!: string;
  @Field({ description: 'Approved before it was ever seen (typed in or imported).' }) preRegistered!: boolean;
  @Field(() => String, { nullable: true }) detectedAt!: string | null;
  @Field(() => String, { nullable: true }) lastSeenAt!: string | null;
  @Field(() => String, { nullable: true }) approvedAt!: string | null;
  @Field() updatedAt!: string;
}
