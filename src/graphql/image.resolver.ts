import { UseGuards } from '@nestjs/common';
import { Args, Int, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import { filter } from 'rxjs';
import {
  ActivateImageVersionCommand,
  DeleteImageCommand,
  DeleteImageVersionCommand,
  RegisterImageCommand,
  RenameImageCommand,
} from '../core/commands/image.commands';
import { ImageJobs, type ImageJobOutput as JobOutput, type ImageJobView } from '../core/images/image-jobs';
import { commandMeta } from '../core/commands/meta';
import { DomainError, ErrorCode } from '../core/domain/shared/domain-error';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import type { ClientView, ImageView } from '../core/projections/read-models';
import { AuthenticatedGuard, CurrentActor } from './auth';
import { Client } from './client.types';
import { CommandGateway } from './command-gateway';
import { Image, ImageJob, ImageJobOutput, ImageVersion } from './image.types';
import { toAsyncIterator } from './live-events';
import { viewOf } from './read-view';

const activateArg = {
  type: () => Boolean,
  nullable: true,
  defaultValue: true,
  description: 'Make the new version the one Pis boot next (a Pi keeps the version it booted until it reboots).',
} as const;
const versionArg = { type: () => Int, nullable: true, description: 'Default: the active version.' } as const;

@Resolver(() => Image)
@UseGuards(AuthenticatedGuard)
export class ImageResolver {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly commands: CommandGateway,
    private readonly jobs: ImageJobs,
  ) {}

  @Query(() => [Image])
  images(): ImageView[] {
    return this.queries.images();
  }

  @Query(() => Image, { nullable: true, description: 'null when unknown.' })
  image(@Args('id') id: string): ImageView | null {
    return this.queries.image(id);
  }

  @Mutation(() => Image, { description: 'Registers an OS tree on this server (absolute path holding etc/, usr/ and boot/).' })
  async registerImage(@CurrentActor() actor: string, @Args('name') name: string, @Args('path') path: string): Promise<ImageView> {
    const { imageId } = await this.commands.send(new RegisterImageCommand({ name, path }, commandMeta(actor)));
    return this.current(imageId);
  }

  @Mutation(() => Image)
  async renameImage(@CurrentActor() actor: string, @Args('id') id: string, @Args('name') name: string): Promise<ImageView> {
    await this.commands.send(new RenameImageCommand({ imageId: id, name }, commandMeta(actor)));
    return this.current(id);
  }

  @Mutation(() => Boolean, {
    description:
      "true when done; IMAGE_IN_USE while clients use it. The trees bramble made for it (imported, cloned, every version) are removed; a registered folder is the admin's and stays.",
  })
  async deleteImage(@CurrentActor() actor: string, @Args('id') id: string): Promise<boolean> {
    this.jobs.assertIdle(id);
    // A registered folder is the admin's: never removed.
    const trees =
      this.queries
        .image(id)
        ?.versions.filter((v) => v.reason !== 'registered')
        .map((v) => v.path) ?? [];
    await this.commands.send(new DeleteImageCommand({ imageId: id }, commandMeta(actor)));
    await this.jobs.removeTrees(trees);
    return true;
  }

  @Query(() => [ImageVersion], { description: 'The versions of an image, oldest first.' })
  imageVersions(@Args('imageId') imageId: string): ImageView['versions'] {
    return this.current(imageId).versions;
  }

  @Query(() => ImageJob, { nullable: true, description: 'A job by id (kept in memory: the running ones and the last 100 finished).' })
  imageJob(@Args('id') id: string): ImageJobView | null {
    return this.jobs.get(id);
  }

  @Query(() => [ImageJob], { description: 'Running jobs and the last 100 finished ones.' })
  imageJobs(): ImageJobView[] {
    return this.jobs.list();
  }

  @Mutation(() => ImageJob, {
    description:
      'Imports an OS image from a path on the server: a root tarball (.tar, .tar.gz, .tar.xz), a Raspberry Pi OS disk image (.img, .img.xz) or a folder. Returns the job at once; the image appears when it succeeds.',
  })
  importImage(@CurrentActor() actor: string, @Args('name') name: string, @Args('source') source: string): Promise<ImageJobView> {
    return this.jobs.startImport(name, source, actor);
  }

  @Mutation(() => ImageJob, {
    description:
      'Converts the active version for network boot (fstab, tmpfs, /home over NFS, nslcd, no first-boot units, no sudo for directory users) as a new version. Nothing changes when it is already converted.',
  })
  convertImage(
    @CurrentActor() actor: string,
    @Args('id') id: string,
    @Args('activate', activateArg) activate: boolean,
  ): Promise<ImageJobView> {
    return this.jobs.startConvert(id, activate ?? true, actor);
  }

  @Mutation(() => ImageJob, {
    description:
      'Runs a shell command (/bin/sh -c) in a chroot of the active version, making a new version when it exits 0 (a failed command makes none). Follow its output with imageCommandOutput. The command is recorded in the audit log: never put a secret in it.',
  })
  runInImage(
    @CurrentActor() actor: string,
    @Args('imageId') imageId: string,
    @Args('command') command: string,
    @Args('activate', activateArg) activate: boolean,
  ): Promise<ImageJobView> {
    return this.jobs.startCommand(imageId, command, activate ?? true, actor);
  }

  @Mutation(() => Image, { description: 'Makes a kept version the one Pis boot next.' })
  async activateImageVersion(
    @CurrentActor() actor: string,
    @Args('imageId') imageId: string,
    @Args('version', { type: () => Int }) version: number,
  ): Promise<ImageView> {
    await this.commands.send(new ActivateImageVersionCommand({ imageId, version }, commandMeta(actor)));
    return this.current(imageId);
  }

  @Mutation(() => ImageJob, { description: "Undoes the active version's change: a new version with its parent's content, made active." })
  rollbackImage(@CurrentActor() actor: string, @Args('imageId') imageId: string): Promise<ImageJobView> {
    return this.jobs.startRollback(imageId, actor);
  }

  @Mutation(() => Image, {
    description: 'Deletes a kept version: IMAGE_IN_USE when it is active or a Pi booted it and has not rebooted since.',
  })
  async deleteImageVersion(
    @CurrentActor() actor: string,
    @Args('imageId') imageId: string,
    @Args('version', { type: () => Int }) version: number,
  ): Promise<ImageView> {
    this.jobs.assertIdle(imageId);
    const kept = this.current(imageId).versions.find((v) => v.version === version);
    const tree = kept && kept.reason !== 'registered' ? kept.path : null;
    await this.commands.send(new DeleteImageVersionCommand({ imageId, version }, commandMeta(actor)));
    if (tree) await this.jobs.removeTrees([tree]);
    return this.current(imageId);
  }

  @Mutation(() => ImageJob, { description: 'Copies a version of an image as a new image (sharing unchanged files).' })
  cloneImage(
    @CurrentActor() actor: string,
    @Args('imageId') imageId: string,
    @Args('name') name: string,
    @Args('version', versionArg) version?: number | null,
  ): Promise<ImageJobView> {
    return this.jobs.startClone(imageId, name, version ?? null, actor);
  }

  @Mutation(() => ImageJob, { description: 'Writes a version as a .tar.xz archive at a path on the server (which must not exist).' })
  exportImage(
    @CurrentActor() actor: string,
    @Args('imageId') imageId: string,
    @Args('file') file: string,
    @Args('version', versionArg) version?: number | null,
  ): Promise<ImageJobView> {
    return this.jobs.startExport(imageId, file, version ?? null, actor);
  }

  @Mutation(() => ImageJob, { description: 'Cancels a running job: it stops and keeps nothing.' })
  cancelImageJob(@Args('id') id: string): ImageJobView {
    return this.jobs.cancel(id);
  }

  @Subscription(() => ImageJob, {
    description: 'Every update of image jobs (or of one job): progress, phase, and the end.',
    resolve: (job: ImageJobView) => job,
  })
  imageJobProgress(@Args('jobId', { type: () => String, nullable: true }) jobId?: string | null): AsyncIterableIterator<ImageJobView> {
    return toAsyncIterator(this.jobs.updates$.pipe(filter((j) => !jobId || j.id === jobId)));
  }

  @Subscription(() => ImageJobOutput, {
    description: "A command's output as it runs (imageJob.outputTail holds the last 64 KiB for a late subscriber).",
    resolve: (chunk: JobOutput) => chunk,
  })
  imageCommandOutput(@Args('jobId') jobId: string): AsyncIterableIterator<JobOutput> {
    return toAsyncIterator(this.jobs.output$.pipe(filter((c) => c.jobId === jobId)));
  }

  @ResolveField(() => [Client], { description: 'Clients assigned to this image.' })
  clients(@Parent() image: ImageView): ClientView[] {
    return viewOf(image, this.queries)
      .clients()
      .filter((c) => c.imageId === image.id);
  }

  private current(id: string): ImageView {
    const image = this.queries.image(id);
    if (!image) throw new DomainError(ErrorCode.IMAGE_NOT_FOUND, `image ${id} not found`, 'imageId');
    return image;
  }
}
