import { Field, ObjectType } from '@nestjs/graphql';

/** An API token as the API shows it: never the token, never its digest. */
@ObjectType({ description: 'An API token issued through the event store (BRAMBLE_ADMIN_TOKEN is not listed).' })
export class ApiToken {
  @Field({ description: 'Unique among live tokens: 1 to 64 letters, digits, spaces, . _ -' }) label!: string;
  @Field({ description: 'The actor recorded on everything done with this token: admin:<label>.' }) actor!: string;
  @Field() issuedAt!: string;
  @Field({ description: 'Actor that issued it (system for the token generated on first start).' }) issuedBy!: string;
}

@ObjectType({ description: 'A new token. `token` is shown this once: bramble keeps only its SHA-256.' })
export class CreatedApiToken extends ApiToken {
  @Field({ description: 'Send as Authorization: Bearer <token>. Store it now; it cannot be shown again.' }) token!: string;
}
