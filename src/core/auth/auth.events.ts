import type { DomainEvent } from '../domain/shared/decider';
import type { CoreEventCatalogue, CoreEventType } from '../plugin-api/events';

/** API tokens, stored as SHA-256 of a 256-bit random token: the token itself is never stored. */
export const AUTH_TOKENS_STREAM = 'auth-tokens';

export const AuthEventType = {
  ApiTokenIssued: 'ApiTokenIssued',
  ApiTokenRevoked: 'ApiTokenRevoked',
} as const satisfies Record<string, CoreEventType>;

export type ApiTokenIssued = DomainEvent<'ApiTokenIssued', CoreEventCatalogue['ApiTokenIssued']>;
export type ApiTokenRevoked = DomainEvent<'ApiTokenRevoked', CoreEventCatalogue['ApiTokenRevoked']>;
