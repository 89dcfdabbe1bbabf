import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { DeleteImageCommand, RegisterImageCommand, RenameImageCommand } from '../core/commands/image.commands';
import { commandMeta } from '../core/commands/meta';
import { DomainError, ErrorCode } from '../core/domain/shared/domain-error';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import type { ClientView, ImageView } from '../core/projections/read-models';
import { AuthenticatedGuard, CurrentActor } from './auth';
import { Client } from './client.types';
import { CommandGateway } from './command-gateway';
import { Image } from './image.types';
import { viewOf } from './read-view';

@Resolver(() => Image)
@UseGuards(AuthenticatedGuard)
export class ImageResolver {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly commands: CommandGateway,
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

  @Mutation(() => Boolean, { description: 'true when done; IMAGE_IN_USE while clients use it.' })
  async deleteImage(@CurrentActor() actor: string, @Args('id') id: string): Promise<boolean> {
    await this.commands.send(new DeleteImageCommand({ imageId: id }, commandMeta(actor)));
    return true;
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
