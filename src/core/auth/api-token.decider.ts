import type { Decider, DomainEvent } from '../domain/shared/decider';
import { DomainError, ErrorCode, validationError } from '../domain/shared/domain-error';
import type { ApiTokenIssued, ApiTokenRevoked } from './auth.events';

/**
 * The API tokens of stream `auth-tokens` (AUTH_TOKENS_STREAM), as a pure decider: which labels are
 * live, and whether a token may be issued or revoked. A token's label is its name in the events
 * (`ApiTokenIssued.data.name`) and the actor of everything done with it (`admin:<label>`).
 */

/** 1–64 characters of letters, digits, space, `.`, `_`, `-`. */
export const TOKEN_LABEL_PATTERN = /^[A-Za-z0-9 ._-]{1,64}$/;
/**
 * The label of BRAMBLE_ADMIN_TOKEN (actor `admin:env`). It lives in the environment, not in the
 * event store: no issued token may take the label (its actor would be indistinguishable), and the
 * API cannot revoke it.
 */
export const ENV_TOKEN_LABEL = 'env';

const SHA256_HEX = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------------------------
// Commands

export interface IssueApiToken {
  type: 'IssueApiToken';
  label: string;
  /** SHA-256 (lower-case hex) of the token. The token itself never reaches the decider. */
  sha256: string;
}

export interface RevokeApiToken {
  type: 'RevokeApiToken';
  label: string;
}

export type ApiTokenCommand = IssueApiToken | RevokeApiToken;
export type ApiTokenEvent = ApiTokenIssued | ApiTokenRevoked;

// ---------------------------------------------------------------------------------------------
// State

export interface ApiTokensState {
  /** Live tokens: label → SHA-256 digest. */
  live: ReadonlyMap<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Decide

/** The label rule, for creation (revocation accepts any label that is live). */
export function validateTokenLabel(label: unknown): string {
  if (typeof label !== 'string' || !TOKEN_LABEL_PATTERN.test(label)) {
    throw validationError('label', 'must be 1 to 64 characters: letters, digits, space, . _ -');
  }
  if (label.startsWith(' ') || label.endsWith(' ')) throw validationError('label', 'must not start or end with a space');
  if (label === ENV_TOKEN_LABEL) throw validationError('label', `"${ENV_TOKEN_LABEL}" is reserved for BRAMBLE_ADMIN_TOKEN`);
  return label;
}

function decide(command: ApiTokenCommand, state: ApiTokensState): ApiTokenEvent[] {
  switch (command.type) {
    case 'IssueApiToken': {
      const label = validateTokenLabel(command.label);
      if (typeof command.sha256 !== 'string' || !SHA256_HEX.test(command.sha256)) {
        throw validationError('sha256', 'not a SHA-256 hex digest');
      }
      if (state.live.has(label)) {
        throw new DomainError(ErrorCode.TOKEN_EXISTS, `a token labelled "${label}" already exists`, 'label');
      }
      for (const digest of state.live.values()) {
        if (digest === command.sha256) throw validationError('sha256', 'a live token already has this digest');
      }
      const event: ApiTokenIssued = { type: 'ApiTokenIssued', data: { name: label, sha256: command.sha256 } };
      return [event];
    }
    case 'RevokeApiToken': {
      const label = command.label;
      if (label === ENV_TOKEN_LABEL) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          `label: "${ENV_TOKEN_LABEL}" is BRAMBLE_ADMIN_TOKEN, which the API cannot revoke: remove it from the environment and restart`,
          'label',
        );
      }
      if (typeof label !== 'string' || !state.live.has(label)) {
        throw new DomainError(ErrorCode.TOKEN_NOT_FOUND, `no live token labelled "${String(label)}"`, 'label');
      }
      const event: ApiTokenRevoked = { type: 'ApiTokenRevoked', data: { name: label } };
      return [event];
    }
    default: {
      const unknown: never = command;
      throw validationError('type', `unknown command ${(unknown as { type?: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Evolve

function evolve(state: ApiTokensState, event: ApiTokenEvent | DomainEvent): ApiTokensState {
  const e = event as ApiTokenEvent;
  switch (e.type) {
    case 'ApiTokenIssued': {
      const live = new Map(state.live);
      live.set(e.data.name, e.data.sha256);
      return { live };
    }
    case 'ApiTokenRevoked': {
      if (!state.live.has(e.data.name)) return state;
      const live = new Map(state.live);
      live.delete(e.data.name);
      return { live };
    }
    default:
      return state;
  }
}

export const apiTokenDecider: Decider<ApiTokensState, ApiTokenCommand, ApiTokenEvent> = {
  initialState: () => ({ live: new Map() }),
  evolve,
  decide,
};
