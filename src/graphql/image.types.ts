import { Field, Float, Int, ObjectType } from '@nestjs/graphql';

@ObjectType({ description: "An image's /etc/os-release." })
export class ImageOsRelease {
  @Field(() => String, { nullable: true, description: 'ID (debian, raspbian...).' }) id!: string | null;
  @Field(() => String, { nullable: true }) versionId!: string | null;
  @Field(() => String, { nullable: true, description: 'bookworm, bullseye...' }) versionCodename!: string | null;
  @Field(() => String, { nullable: true }) prettyName!: string | null;
}

@ObjectType({ description: 'One immutable version of an image: its own root tree, sharing unchanged files with the others.' })
export class ImageVersion {
  @Field(() => Int) version!: number;
  @Field(() => Int, { nullable: true, description: 'The version it was made from (null for version 1).' }) parentVersion!: number | null;
  @Field({ description: 'registered, imported, cloned, convert, command or rollback.' }) reason!: string;
  @Field({ description: 'Its root tree (also its NFS export path).' }) path!: string;
  @Field() bootPath!: string;
  @Field() createdAt!: string;
}

@ObjectType({ description: 'An OS image: a root file system tree served to the Pis over NFS, with its boot folder, in versions.' })
export class Image {
  @Field({ description: 'Stable id derived from the first name (e.g. raspberry-pi-os-bookworm).' }) id!: string;
  @Field() name!: string;
  @Field({ description: "Absolute path of the active version's root tree." }) path!: string;
  @Field({ description: "Absolute path of the active version's boot folder (boot/firmware or boot)." }) bootPath!: string;
  @Field(() => Int, { description: 'The active version: what a Pi gets when it boots now.' }) version!: number;
  @Field(() => [ImageVersion], { description: 'Every version kept, oldest first.' }) versions!: ImageVersion[];
  @Field({ description: 'true: bramble made the trees (imported or cloned); false: registered in place by the admin.' }) managed!: boolean;
  @Field(() => String, { nullable: true, description: 'Debian architecture (arm64, armhf, amd64...), when known.' }) architecture!:
    string | null;
  @Field(() => ImageOsRelease, { nullable: true }) osRelease!: ImageOsRelease | null;
  @Field({ description: 'Whether the active version was converted for network boot (convertImage).' }) converted!: boolean;
  @Field() registeredAt!: string;
}

@ObjectType({ description: 'A file an image change touched.' })
export class ImageFileChange {
  @Field({ description: 'Inside the image: /etc/fstab.' }) path!: string;
  @Field({ description: 'created, modified or removed.' }) action!: string;
  @Field(() => String, { nullable: true }) sha256!: string | null;
}

@ObjectType()
export class ImageJobError {
  @Field({ description: 'A stable error code (IMAGE_INVALID, IMAGE_IMPORT_FAILED, IMAGE_COMMAND_FAILED, IMAGE_JOB_ABORTED...).' })
  code!: string;
  @Field() message!: string;
}

@ObjectType({
  description:
    'A long image operation (import, convert, command, rollback, clone, export): follow it with the imageJobProgress subscription, or poll imageJob.',
})
export class ImageJob {
  @Field() id!: string;
  @Field({ description: 'import, convert, command, rollback, clone or export.' }) kind!: string;
  @Field({ description: 'The image it works on (import and clone: the id the new image gets).' }) imageId!: string;
  @Field({ description: 'running, succeeded, failed or cancelled.' }) state!: string;
  @Field({ description: 'What it is doing now (reading, extracting-root, cloning, converting, running...).' }) phase!: string;
  @Field(() => Float) bytesDone!: number;
  @Field(() => Float, { nullable: true }) bytesTotal!: number | null;
  @Field(() => Int) files!: number;
  @Field() startedAt!: string;
  @Field(() => String, { nullable: true }) finishedAt!: string | null;
  @Field(() => ImageJobError, { nullable: true }) error!: ImageJobError | null;
  @Field(() => Int, { nullable: true, description: 'The version it made (null: none).' }) version!: number | null;
  @Field(() => [ImageFileChange], { description: 'For convert: every file it changed.' }) changes!: ImageFileChange[];
  @Field(() => [String]) warnings!: string[];
  @Field(() => Int, { nullable: true, description: 'For command: its exit status.' }) exitCode!: number | null;
  @Field({ description: 'For command: the last 64 KiB of its output.' }) outputTail!: string;
  @Field(() => String, { nullable: true, description: 'For export: the archive written.' }) file!: string | null;
}

@ObjectType({ description: 'A piece of the output of a command running in an image.' })
export class ImageJobOutput {
  @Field() jobId!: string;
  @Field({ description: 'stdout or stderr.' }) stream!: string;
  @Field() text!: string;
  @Field(() => Float, { description: "Byte offset of text in the command's whole output." }) offset!: number;
}
