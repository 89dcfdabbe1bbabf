import { UseGuards } from '@nestjs/common';
import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { commandMeta } from '../core/commands/meta';
import { CreateApiTokenCommand, RevokeApiTokenCommand } from '../core/commands/system.commands';
import { ReadModelQueries } from '../core/projections/read-model-queries';
import type { ApiTokenView } from '../core/projections/read-models';
import { AuthenticatedGuard, CurrentActor } from './auth';
import { CommandGateway } from './command-gateway';
import { ApiToken, CreatedApiToken } from './token.types';

function toApiToken(view: Pick<ApiTokenView, 'name' | 'issuedAt' | 'issuedBy'>): ApiToken {
  return { label: view.name, actor: `admin:${view.name}`, issuedAt: view.issuedAt, issuedBy: view.issuedBy };
}

/**
 * API tokens: list, create (the token is returned once), revoke. BRAMBLE_ADMIN_TOKEN (actor
 * `admin:env`) lives in the environment: it is not listed and cannot be revoked here.
 */
@Resolver(() => ApiToken)
@UseGuards(AuthenticatedGuard)
export class TokenResolver {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly commands: CommandGateway,
  ) {}

  @Query(() => [ApiToken], { description: 'Live API tokens, by label. Never the token or its digest.' })
  apiTokens(): ApiToken[] {
    return this.queries.apiTokens().map(toApiToken);
  }

  @Mutation(() => CreatedApiToken, {
    description: 'Creates a token (256 random bits, base64url) and returns it this once; only its SHA-256 is stored.',
  })
  async createApiToken(@CurrentActor() actor: string, @Args('label') label: string): Promise<CreatedApiToken> {
    const meta = commandMeta(actor);
    const created = await this.commands.send(new CreateApiTokenCommand({ label }, meta));
    // From the command itself (the event carries meta's timestamp and actor), not from a later
    // read that a concurrent revocation could already have changed.
    return { ...toApiToken({ name: created.label, issuedAt: meta.timestamp, issuedBy: actor }), token: created.token };
  }

  @Mutation(() => Boolean, {
    description: 'Revokes a token: it stops authenticating at once. true when done. BRAMBLE_ADMIN_TOKEN ("env") cannot be revoked here.',
  })
  async revokeApiToken(@CurrentActor() actor: string, @Args('label') label: string): Promise<boolean> {
    await this.commands.send(new RevokeApiTokenCommand({ label }, commandMeta(actor)));
    return true;
  }
}
