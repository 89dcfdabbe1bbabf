import { Field, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: 'An OS image: a root file system tree served to the Pis over NFS, with its boot folder.' })
export class Image {
  @Field({ description: 'Stable id derived from the first name (e.g. raspberry-pi-os-bookworm).' }) id!: string;
  @Field() name!: string;
  @Field({ description: 'Absolute path of the root tree.' }) path!: string;
  @Field({ description: 'Absolute path of the boot folder (boot/firmware or boot).' }) bootPath!: string;
  @Field() registeredAt!: string;
}
