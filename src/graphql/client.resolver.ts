import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Parent, Query, ResolveField, Resolver, Subscription } from '@nestjs/graphql';
import {
  ApproveClientCommand,
  AssignImageCommand,
  ImportClientsCommand,
  RejectClientCommand,
  RemoveClientCommand,
  RenameClientCommand,
  SetClientBootConfigCommand,
} from '../core/commands/client.commands';
import { commandMeta } from '../core/commands/meta';
import { normalizeMac } from '../core/domain/client/mac';
import { DomainError, ErrorCode } from '../core/domain/shared/domain-error';
import { CostlyWork } from '../core/limits/concurrency-limiter';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import type { ClientView, ImageView } from '../core/projections/read-models';
import { AuthenticatedGuard, CurrentActor } from './auth';
import { Client, ClientStatus } from './client.types';
import { CommandGateway } from './command-gateway';
import { Image } from './image.types';
import { ImportRowResult } from './import.types';
import { LiveEvents, toAsyncIterator } from './live-events';
import { viewOf } from './read-view';

const optionalString = { type: () => String, nullable: true } as const;

@Resolver(() => Client)
@UseGuards(AuthenticatedGuard)
export class ClientResolver {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly commands: CommandGateway,
    private readonly costly: CostlyWork,
    private readonly live: LiveEvents,
  ) {}

  @Query(() => [Client], { description: 'Every client, or those with this status.' })
  clients(@Args('status', { type: () => ClientStatus, nullable: true }) status?: ClientStatus | null): ClientView[] {
    return this.queries.clients(status ?? undefined);
  }

  @Query(() => Client, { nullable: true, description: 'One client by MAC (any common notation); null when unknown.' })
  client(@Args('mac') mac: string): ClientView | null {
    return this.queries.client(normalizeMac(mac));
  }

  @Mutation(() => Client, { description: 'Lets a Pi boot (also pre-registers a MAC never seen).' })
  async approveClient(
    @CurrentActor() actor: string,
    @Args('mac') mac: string,
    @Args('name', optionalString) name?: string | null,
    @Args('imageId', optionalString) imageId?: string | null,
  ): Promise<ClientView> {
    await this.commands.send(new ApproveClientCommand({ mac, name: name ?? null, imageId: imageId ?? null }, commandMeta(actor)));
    return this.current(mac);
  }

  @Mutation(() => Client)
  async rejectClient(@CurrentActor() actor: string, @Args('mac') mac: string): Promise<ClientView> {
    await this.commands.send(new RejectClientCommand({ mac }, commandMeta(actor)));
    return this.current(mac);
  }

  @Mutation(() => Boolean, { description: 'Forgets a client; true when done.' })
  async removeClient(@CurrentActor() actor: string, @Args('mac') mac: string): Promise<boolean> {
    await this.commands.send(new RemoveClientCommand({ mac }, commandMeta(actor)));
    return true;
  }

  @Mutation(() => Client)
  async renameClient(@CurrentActor() actor: string, @Args('mac') mac: string, @Args('name') name: string): Promise<ClientView> {
    await this.commands.send(new RenameClientCommand({ mac, name }, commandMeta(actor)));
    return this.current(mac);
  }

  @Mutation(() => Client, { description: 'Assigns an image to a client; imageId null unassigns.' })
  async assignImage(
    @CurrentActor() actor: string,
    @Args('mac') mac: string,
    @Args('imageId', optionalString) imageId: string | null,
  ): Promise<ClientView> {
    await this.commands.send(new AssignImageCommand({ mac, imageId: imageId ?? null }, commandMeta(actor)));
    return this.current(mac);
  }

  @Mutation(() => Client)
  async setClientBootConfig(
    @CurrentActor() actor: string,
    @Args('mac') mac: string,
    @Args('configTxt') configTxt: string,
    @Args('cmdlineArgs') cmdlineArgs: string,
  ): Promise<ClientView> {
    await this.commands.send(new SetClientBootConfigCommand({ mac, configTxt, cmdlineArgs }, commandMeta(actor)));
    return this.current(mac);
  }

  @Mutation(() => [ImportRowResult], { description: 'Approves every MAC of a CSV list (mac,name,imageId); one result per row.' })
  importClients(@CurrentActor() actor: string, @Args('csv') csv: string): Promise<ImportRowResult[]> {
    return this.costly.import.run(() => this.commands.sendAndCatchUp(new ImportClientsCommand({ csv }, commandMeta(actor))));
  }

  @Subscription(() => Client, {
    description: 'A new Pi was seen on the network (ClientDetected): the client as the read models have it.',
    resolve: (client: ClientView) => client,
  })
  clientDetected(): AsyncIterableIterator<ClientView> {
    return toAsyncIterator(this.live.detectedClients$);
  }

  @ResolveField(() => Image, { nullable: true })
  image(@Parent() client: ClientView): ImageView | null {
    return client.imageId ? viewOf(client, this.queries).image(client.imageId) : null;
  }

  private current(mac: string): ClientView {
    const normalized = normalizeMac(mac);
    const client = this.queries.client(normalized);
    if (!client) throw new DomainError(ErrorCode.CLIENT_NOT_FOUND, `client ${normalized} not found`, 'mac');
    return client;
  }
}
