import type { DomainEvent } from '../domain/shared/decider';
import type { CoreEventCatalogue } from '../plugin-api/events';
import { AuthEventTypes } from '../plugin-api/events';

/** API tokens, stored as SHA-256 of a 256-bit random token: the token itself is never stored. */
export const AUTH_TOKENS_STREAM = 'auth-tokens';

/** The type names of these events (the catalogue's, plugin-api/events.ts). */
export const AuthEventType = AuthEventTypes;

export type ApiTokenIssued = DomainEvent<'ApiTokenIssued', CoreEventCatalogue['ApiTokenIssued']>;
export type ApiTokenRevoked = DomainEvent<'ApiTokenRevoked', CoreEventCatalogue['ApiTokenRevoked']>;
