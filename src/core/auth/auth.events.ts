import type { DomainEvent } from '../domain/shared/decider';

/** API tokens, stored as SHA-256 of a 256-bit random token: the token itself is never stored. */
export const AUTH_TOKENS_STREAM = 'auth-tokens';

export const AuthEventType = {
  ApiTokenIssued: 'ApiTokenIssued',
  ApiTokenRevoked: 'ApiTokenRevoked',
} as const;

export type ApiTokenIssued = DomainEvent<'ApiTokenIssued', { name: string; sha256: string }>;
export type ApiTokenRevoked = DomainEvent<'ApiTokenRevoked', { name: string }>;
